"""Time-boxed permissions (ACC-2): after-hours registrations, goods-lift bookings, temporary power and
hot-work permits. Each approved one may carry a pass that ends with it."""
