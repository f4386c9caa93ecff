"""What the flows need of Prefect's runtime that is not a task: a stage's slot (a global concurrency limit),
the failure hooks and notifications, and who a run acts for."""
