-- Abandoned carts: one row per visit that put something in the cart and has no purchase (yet:
-- a later purchase in the same visit removes it). With its dimension keys (date_key of the
-- visit's start, channel_id, customer_id: null for a guest), the units added and removed, the
-- value left in the cart (added − removed, at the prices shown) and whether checkout was reached.
-- upkeep: per-entity
SELECT session_id,
       CAST(min(event_time) AS DATE) AS date_key,
       max(channel_id) AS channel_id,
       max(customer_id) AS customer_id,
       max(device) AS device,
       min(event_time) AS session_start,
       max(event_time) AS last_event_time,
       CAST(count(DISTINCT CASE WHEN event_type = 'ADD_TO_CART' THEN sku END) AS BIGINT) AS products_added,
       CAST(coalesce(sum(CASE WHEN event_type = 'ADD_TO_CART' THEN quantity END), 0) AS BIGINT) AS units_added,
       CAST(coalesce(sum(CASE WHEN event_type = 'REMOVE_FROM_CART' THEN quantity END), 0) AS BIGINT) AS units_removed,
       CAST(coalesce(sum(CASE WHEN event_type = 'ADD_TO_CART' THEN quantity * unit_price
                              WHEN event_type = 'REMOVE_FROM_CART' THEN -(quantity * unit_price) END), 0) AS DECIMAL(22, 2)) AS cart_value,
       max(CASE WHEN event_type = 'CHECKOUT' THEN true ELSE false END) AS reached_checkout
FROM current_state
GROUP BY session_id
HAVING sum(CASE WHEN event_type = 'ADD_TO_CART' THEN 1 ELSE 0 END) > 0
   AND sum(CASE WHEN event_type = 'PURCHASE' THEN 1 ELSE 0 END) = 0
ORDER BY session_id
