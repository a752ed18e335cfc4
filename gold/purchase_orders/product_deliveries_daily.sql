-- Day of delivery (UTC) × product: the line items delivered that day (a delivered line's latest
-- event is its delivery), their units and orders. most_sold_product_last_month reads it.
-- upkeep: additive
-- groups: delivery_date, product_id
-- count: orders
-- max: product_name
SELECT CAST(event_time AS DATE) AS delivery_date,
       product_id,
       max(product_name) AS product_name,
       CAST(sum(quantity) AS BIGINT) AS units,
       CAST(count(DISTINCT order_id) AS BIGINT) AS orders
FROM current_state
WHERE order_status = 'DELIVERED' AND product_id IS NOT NULL AND quantity IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2
