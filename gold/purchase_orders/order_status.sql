-- Per order: items, delivered and cancelled items, total, first and last event, and
-- COMPLETED (every item delivered) / CANCELLED (every item cancelled) / OPEN.
-- upkeep: per-entity
SELECT order_id,
       CAST(count(*) AS BIGINT) AS line_items,
       CAST(sum(CASE WHEN order_status = 'DELIVERED' THEN 1 ELSE 0 END) AS BIGINT) AS delivered_items,
       CAST(sum(CASE WHEN order_status = 'CANCELLED' THEN 1 ELSE 0 END) AS BIGINT) AS cancelled_items,
       CAST(sum(total_amount) AS DECIMAL(22, 2)) AS order_total,
       min(first_event_time) AS first_event_time,
       max(event_time) AS last_event_time,
       CASE WHEN sum(CASE WHEN order_status = 'DELIVERED' THEN 1 ELSE 0 END) = count(*) THEN 'COMPLETED'
            WHEN sum(CASE WHEN order_status = 'CANCELLED' THEN 1 ELSE 0 END) = count(*) THEN 'CANCELLED'
            ELSE 'OPEN' END AS completion_status
FROM current_state
GROUP BY order_id
ORDER BY order_id
