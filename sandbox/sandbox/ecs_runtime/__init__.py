"""What ECS would run, run by the sandbox's Docker engine.

``docker_tasks`` is the Docker side: a task's containers started in one network namespace on the cluster's
own bridge network, in ``dependsOn`` order, with images pulled by digest from the stage's own registry;
their state read back from Docker (labels name every task, so a restarted runtime finds them again).
It knows nothing of moto or boto3: what to run, and writing what runs back into moto, is the part beside it.
"""
