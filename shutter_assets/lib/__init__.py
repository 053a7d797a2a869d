"""Plain Python that does the real work (parsing, protocol clients, loaders); no Dagster imports."""
