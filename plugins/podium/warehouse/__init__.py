"""podium.warehouse: service code of the ETL steps, shared by the ETL operators and the warehouse hook.

* :mod:`.duckdb_session`: DuckDB connections with bounded memory, and their progress in the task log
* :mod:`.parquet_reads`: staged Parquet read by DuckDB as bounded Arrow batches
* :mod:`.prefetch`: items produced by a background thread a bounded number ahead
* :mod:`.copy_formats`: how rows travel in a COPY: PostgreSQL's binary format (pgpq) or CSV (Arrow)
* :mod:`.copying`: COPY into a stage table over several connections; DELETE + COPY on one
* :mod:`.exchange`: a table's new partition filled beside the live one, then swapped in
* :mod:`.postgres_load` and :mod:`.sqlite_load`: a whole load, one transaction, on each kind of database

Clients (duckdb, pyarrow, pgpq, psycopg) are imported inside the functions that use them; the naming
rules and the load's plain data live in :mod:`podium.etl.loads`.
"""
