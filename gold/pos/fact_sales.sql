-- The store sales fact: one row per sale line, with the keys of its dimensions (date_key and
-- time_slot of when it was rung up, location_id, channel_id, sku, customer_id) and its measures.
-- gross_amount is quantity × unit_price; net_amount (line_total) is after the discount.
-- upkeep: per-entity
SELECT transaction_id,
       line_number,
       business_date AS date_key,
       CAST(date_part('hour', event_time) * 4 + floor(date_part('minute', event_time) / 15) AS INT) AS time_slot,
       location_id,
       channel_id,
       register_id,
       sku,
       customer_id,
       tender_type,
       quantity,
       unit_price,
       CAST(quantity * unit_price AS DECIMAL(22, 2)) AS gross_amount,
       coalesce(discount_amount, CAST(0 AS DECIMAL(12, 2))) AS discount_amount,
       line_total AS net_amount,
       currency,
       event_time
FROM current_state
ORDER BY transaction_id, line_number
