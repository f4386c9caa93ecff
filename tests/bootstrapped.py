"""What a bootstrapped QA account gives its environments, as its bootstrap stack's outputs would: for tests that plan
deploys without an account."""

from __future__ import annotations

from cloudops import deploy

OPTIONS = deploy.StageOptions(
    key_arn="arn:aws:kms:eu-west-1:222222222222:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    log_bucket="cloudops-logs-222222222222-eu-west-1",
    monitoring_role_arn="arn:aws:iam::222222222222:role/cloudops-rds-monitoring",
)
