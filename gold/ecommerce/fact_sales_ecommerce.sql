-- The online sales fact: one row per order line in its latest status, with the keys of its
-- dimensions (date_key of the order date, channel_id, customer_id, sku, location_id of the
-- warehouse or pickup store fulfilling it) and its measures. net_amount (line_total) is after the
-- discount; shipping_amount is the order's, on line 1. is_fulfilled: DELIVERED (a RETURNED or
-- CANCELLED line is not revenue).
-- upkeep: per-entity
SELECT order_id,
       line_number,
       order_date AS date_key,
       channel_id,
       customer_id,
       sku,
       fulfilment_location_id AS location_id,
       order_status,
       shipping_method,
       quantity,
       unit_price,
       coalesce(discount_amount, CAST(0 AS DECIMAL(12, 2))) AS discount_amount,
       line_total AS net_amount,
       shipping_amount,
       order_status = 'DELIVERED' AS is_fulfilled,
       first_event_time AS placed_at,
       event_time AS status_time
FROM current_state
ORDER BY order_id, line_number
