"""Who writes a load balancer's access logs into the account's log bucket, by region.

In regions opened before August 2022, Elastic Load Balancing writes access logs as an AWS account of its own in that
region, which the bucket's policy must name; later regions use the service principal
``logdelivery.elasticloadbalancing.amazonaws.com``, which the bootstrap's policy names in every region. The accounts
are AWS's published list ("Enable access logs for your Application Load Balancer", Elastic Load Balancing User
Guide, read 2026-12-07).
"""

from __future__ import annotations

ELB_LOG_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
}


def region_log_statement(region: str) -> dict[str, object] | None:
    """The log bucket's policy statement that lets ``region``'s Elastic Load Balancing account write access logs;
    None in a region that uses the service principal only."""
    account = ELB_LOG_ACCOUNTS.get(region)
    if account is None:
        return None
    return {
        "Sid": "LoadBalancerAccessLogsOfTheRegion",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "s3:PutObject",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${LogBucket}/elb/*/AWSLogs/${AWS::AccountId}/*"},
    }
