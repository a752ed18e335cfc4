-- Month of the order date × product: units and revenue of every line item ordered, of those
-- delivered, and the number of orders.
-- upkeep: additive
-- groups: month, product_id
-- count: orders
-- max: product_name
SELECT CAST(date_trunc('month', CAST(order_date AS TIMESTAMP)) AS DATE) AS month,
       product_id,
       max(product_name) AS product_name,
       CAST(sum(quantity) AS BIGINT) AS units_ordered,
       CAST(sum(total_amount) AS DECIMAL(22, 2)) AS revenue_ordered,
       CAST(coalesce(sum(CASE WHEN order_status = 'DELIVERED' THEN quantity END), 0) AS BIGINT) AS units_delivered,
       CAST(coalesce(sum(CASE WHEN order_status = 'DELIVERED' THEN total_amount END), 0) AS DECIMAL(22, 2)) AS revenue_delivered,
       CAST(count(DISTINCT order_id) AS BIGINT) AS orders
FROM current_state
WHERE order_date IS NOT NULL AND product_id IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2
