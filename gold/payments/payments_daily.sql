-- Day (UTC, of the payment's first event) × payment method × currency × country: payments,
-- their amount, the amount captured (captured or later refunded), and how many were declined
-- and refunded. Each payment counts once, in its latest status.
-- upkeep: additive
-- groups: day, payment_method, currency, country
-- count: payments
SELECT CAST(first_event_time AS DATE) AS day,
       payment_method,
       currency,
       country,
       CAST(count(*) AS BIGINT) AS payments,
       CAST(coalesce(sum(amount), 0) AS DECIMAL(22, 2)) AS amount,
       CAST(coalesce(sum(CASE WHEN status IN ('CAPTURED', 'REFUNDED') THEN amount END), 0) AS DECIMAL(22, 2)) AS captured_amount,
       CAST(sum(CASE WHEN status = 'DECLINED' THEN 1 ELSE 0 END) AS BIGINT) AS declined,
       CAST(sum(CASE WHEN status = 'REFUNDED' THEN 1 ELSE 0 END) AS BIGINT) AS refunded
FROM current_state
WHERE first_event_time IS NOT NULL
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
