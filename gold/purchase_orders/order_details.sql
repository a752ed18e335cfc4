-- The current line items of every order with their product (dim_product, by the purchase-order
-- product_id), customer (dim_customer) and vendor (dim_vendor). A key without a dimension member
-- leaves that member's columns null; silver's rules flag such rows.
-- upkeep: per-entity
SELECT c.order_id,
       c.line_number,
       c.order_status,
       c.payment_status,
       c.order_date,
       c.fiscal_quarter,
       c.product_id,
       p.sku,
       p.product_name,
       p.category,
       p.brand,
       c.quantity,
       c.unit_price,
       c.total_amount,
       c.discount_amount,
       c.currency,
       c.customer_id,
       cu.customer_name,
       cu.segment,
       cu.home_store,
       c.vendor_id,
       v.vendor_name,
       c.warehouse_location,
       c.sales_channel,
       c.payment_method,
       c.first_event_time,
       c.event_time AS last_event_time
FROM current_state c
LEFT JOIN dim_product p ON p.product_id = c.product_id
LEFT JOIN dim_customer cu ON cu.customer_id = c.customer_id
LEFT JOIN dim_vendor v ON v.vendor_id = c.vendor_id
ORDER BY c.order_id, c.line_number
