"""The sandbox's RDS runtime: each stage account's RDS instances as MariaDB servers on the sandbox's Docker engine."""
