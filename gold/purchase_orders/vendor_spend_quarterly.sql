-- Fiscal quarter × vendor: what was bought (line items not cancelled): spend, units, items,
-- orders.
-- upkeep: additive
-- groups: fiscal_quarter, vendor_id
-- count: orders
SELECT fiscal_quarter,
       vendor_id,
       CAST(sum(total_amount) AS DECIMAL(22, 2)) AS spend,
       CAST(sum(quantity) AS BIGINT) AS units,
       CAST(count(*) AS BIGINT) AS items,
       CAST(count(DISTINCT order_id) AS BIGINT) AS orders
FROM current_state
WHERE (order_status IS DISTINCT FROM 'CANCELLED') AND fiscal_quarter IS NOT NULL AND vendor_id IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2
