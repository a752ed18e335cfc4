-- The products delivered in the last 30 days, most units first: units, orders, the days they
-- were delivered on (sales days) and their share of all units delivered in those days. The 30
-- days end on the latest delivery day in the data, so a replayed or simulated calendar answers
-- like a live one. Rank 1 is the most sold product (ties: more orders, then the lower id).
-- upkeep: derived
-- from: product_deliveries_daily
WITH window_end AS (
    SELECT max(delivery_date) AS last_day FROM product_deliveries_daily
),
recent AS (
    SELECT d.*
    FROM product_deliveries_daily d, window_end w
    WHERE d.delivery_date > w.last_day - INTERVAL '30' DAY
),
per_product AS (
    SELECT product_id,
           max(product_name) AS product_name,
           CAST(sum(units) AS BIGINT) AS units,
           CAST(sum(orders) AS BIGINT) AS orders,
           CAST(count(*) AS BIGINT) AS sales_days
    FROM recent
    GROUP BY product_id
)
SELECT CAST(row_number() OVER (ORDER BY p.units DESC, p.orders DESC, p.product_id) AS BIGINT) AS sales_rank,
       p.product_id,
       p.product_name,
       p.units,
       p.orders,
       p.sales_days,
       CAST(p.units AS DOUBLE) / CAST((SELECT sum(units) FROM per_product) AS DOUBLE) AS share_of_units,
       CAST(w.last_day - INTERVAL '29' DAY AS DATE) AS window_start,
       w.last_day AS window_end
FROM per_product p, window_end w
ORDER BY sales_rank
