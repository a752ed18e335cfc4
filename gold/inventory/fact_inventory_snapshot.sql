-- The daily on-hand snapshot: per day (date_key), location and product that moved that day, the
-- units on hand at the end of the day and their value at cost, from the stream's end-of-day
-- STOCK_COUNT events (one row per count).
-- upkeep: per-entity
SELECT movement_id,
       business_date AS date_key,
       location_id,
       sku,
       quantity_on_hand,
       unit_cost,
       CAST(quantity_on_hand * unit_cost AS DECIMAL(22, 2)) AS stock_value
FROM current_state
WHERE movement_type = 'STOCK_COUNT'
ORDER BY movement_id
