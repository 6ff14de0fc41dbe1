#!/usr/bin/env python3
"""Benchmarks that print numbers (run by `make bench`, not by `make test`).

1. replay throughput: 10,000 recorded events (varied timestamp forms, SNS-wrapped, duplicates)
   through `sagemaker-callback replay` into a fresh database; events/s and CPU per event.
2. idle memory: `sagemaker-callback serve` against moto on 127.0.0.1, resident set size after it
   settles, and again after 10,000 callbacks are registered (they live on disk).
"""
import json, os, resource, socket, subprocess, sys, tempfile, time, urllib.request, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("SAGEMAKER_CALLBACK_BINARY", os.path.join(ROOT, ".build/release/sagemaker-callback"))
MOTO = os.environ.get("MOTO_SERVER", os.path.join(ROOT, ".venv/bin/moto_server"))
COUNT = int(os.environ.get("BENCH_EVENTS", "10000"))


def event(i):
    name = f"bench-job-{i}"
    forms = [1589879479000 + i, str(1589879479000 + i), 1589879479.123 + i, "2024-05-19T09:11:19.000Z"]
    status = ["Completed", "Failed", "Stopped", "InProgress"][i % 4]
    detail = {
        "ProcessingJobName": name,
        "ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}",
        "ProcessingJobStatus": status,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/preprocess:latest",
                             "ContainerArguments": ["--input", "/opt/ml/processing/input", "--output", "/opt/ml/processing/output"]},
        "ProcessingInputs": [{"InputName": "data", "S3Input": {"S3Uri": f"s3://bucket/data/{i}", "LocalPath": "/opt/ml/processing/input",
                                                                "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "Environment": {"STAGE": "prod", "RUN": str(i)},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
        "CreationTime": forms[i % 4], "LastModifiedTime": forms[(i + 1) % 4],
        "Tags": {"team": "ml-platform"},
    }
    if status == "Failed":
        detail["FailureReason"] = "AlgorithmError: see logs"
    body = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "SageMaker Processing Job State Change",
            "source": "aws.sagemaker", "account": "123456789012", "time": "2024-05-19T09:11:19Z",
            "region": "us-east-1", "resources": [detail["ProcessingJobArn"]], "detail": detail}
    if i % 10 == 9:
        return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": json.dumps(body)}
    return body


def replay_throughput():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.jsonl")
        with open(path, "w") as f:
            for i in range(COUNT):
                f.write(json.dumps(event(i if i % 50 else max(i - 1, 0))) + "\n")  # every 50th repeats its predecessor
        size = os.path.getsize(path)
        db = os.path.join(tmp, "fresh.sqlite")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run([BINARY, "replay", "--database", db, path], capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            sys.exit(f"replay failed ({out.returncode}): {out.stderr}{out.stdout}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"replay: {COUNT} events ({size / COUNT / 1024:.1f} KB each) into a fresh database in {wall:.2f} s "
              f"= {COUNT / wall:,.0f} events/s; CPU {cpu / COUNT * 1e6:.0f} µs/event; peak RSS {after.ru_maxrss / 1024:.1f} MiB")
        print("  " + out.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def idle_memory():
    import boto3
    port = free_port()
    moto = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        events = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
        requests = sqs.create_queue(QueueName="bench-requests")["QueueUrl"]
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="t", AWS_SECRET_ACCESS_KEY="t",
                       SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL=events, SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL=requests,
                       SAGEMAKER_CALLBACK_DATABASE=os.path.join(tmp, "serve.sqlite"), LOG_LEVEL="warning")
            serve = subprocess.Popen([BINARY, "serve"], env=env, stderr=subprocess.DEVNULL)
            time.sleep(5)
            idle = rss_mib(serve.pid)
            n = int(os.environ.get("BENCH_CALLBACKS", "2000"))
            for start in range(0, n, 10):
                sqs.send_message_batch(QueueUrl=requests, Entries=[
                    {"Id": str(k), "MessageBody": json.dumps({"TaskToken": f"bench-token-{start + k}", "ProcessingJobName": f"pending-{start + k}"})}
                    for k in range(10)])
            deadline = time.time() + 300
            while time.time() < deadline:
                attrs = sqs.get_queue_attributes(QueueUrl=requests, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                if attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
                    break
                time.sleep(0.5)
            time.sleep(3)
            loaded = rss_mib(serve.pid)
            serve.terminate()
            serve.wait(timeout=15)
            print(f"serve: resident {idle:.1f} MiB idle; {loaded:.1f} MiB idle again with {n:,} callbacks pending (on disk); "
                  f"SIGTERM exit {serve.returncode}")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    replay_throughput()
    if "--replay-only" not in sys.argv:
        idle_memory()
