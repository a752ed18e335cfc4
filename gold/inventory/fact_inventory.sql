-- The stock movements fact: one row per movement (end-of-day stock counts included), with its
-- dimension keys (date_key, time_slot, location_id, sku), the change in units and the units on
-- hand after it, and the change in stock value at cost.
-- upkeep: per-entity
SELECT movement_id,
       business_date AS date_key,
       CAST(date_part('hour', event_time) * 4 + floor(date_part('minute', event_time) / 15) AS INT) AS time_slot,
       location_id,
       sku,
       movement_type,
       reference_id,
       quantity,
       quantity_on_hand,
       unit_cost,
       CAST(quantity * unit_cost AS DECIMAL(22, 2)) AS value_change,
       event_time
FROM current_state
ORDER BY movement_id
