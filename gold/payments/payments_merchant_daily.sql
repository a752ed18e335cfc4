-- Day (UTC, of the payment's first event) × merchant: payments, captured (captured or later
-- refunded), declined and refunded payments, the decline rate (declined / payments) and the
-- refund rate (refunded / captured; null without captures).
-- upkeep: additive
-- groups: day, merchant_id
-- count: payments
-- max: merchant_name
-- ratios: decline_rate = declined / payments, refund_rate = refunded / captured
SELECT CAST(first_event_time AS DATE) AS day,
       merchant_id,
       max(merchant_name) AS merchant_name,
       CAST(count(*) AS BIGINT) AS payments,
       CAST(sum(CASE WHEN status IN ('CAPTURED', 'REFUNDED') THEN 1 ELSE 0 END) AS BIGINT) AS captured,
       CAST(sum(CASE WHEN status = 'DECLINED' THEN 1 ELSE 0 END) AS BIGINT) AS declined,
       CAST(sum(CASE WHEN status = 'REFUNDED' THEN 1 ELSE 0 END) AS BIGINT) AS refunded,
       CAST(sum(CASE WHEN status = 'DECLINED' THEN 1 ELSE 0 END) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS decline_rate,
       CASE WHEN sum(CASE WHEN status IN ('CAPTURED', 'REFUNDED') THEN 1 ELSE 0 END) = 0 THEN CAST(NULL AS DOUBLE)
            ELSE CAST(sum(CASE WHEN status = 'REFUNDED' THEN 1 ELSE 0 END) AS DOUBLE)
                 / CAST(sum(CASE WHEN status IN ('CAPTURED', 'REFUNDED') THEN 1 ELSE 0 END) AS DOUBLE) END AS refund_rate
FROM current_state
WHERE first_event_time IS NOT NULL AND merchant_id IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2
