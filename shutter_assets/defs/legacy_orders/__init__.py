"""Legacy orders: db_commandes (MySQL, read only) -> raw_commandes.*, one asset per table."""
