#!/usr/bin/env python3
"""Scans the logs a test run produced for secrets in any line above debug.

    scan-logs.py [--runner-output FILE]... PATH...
    scan-logs.py --self-check

Every file under each PATH (a directory, or a file) is read line by line: every line is scanned
except log lines at debug or trace (text lines of swift-log's stream handler, or JSON lines with a
"level"). A --runner-output file (what `swift test` printed) holds test names and expectations
too, so only its log lines are scanned. What counts as a leak:

  task-token   a "TaskToken" field with a value that is not masked (<token HASH12>)
  uuid         a UUID (moto's task tokens are UUIDs) anywhere but in a field known to carry an id
  long-run     a run of 64+ base64 characters, or 64+ hex digits (real task tokens, session
               tokens, signatures, receipt handles)
  credential   an AWS access key id (AKIA…/ASIA…), a secret key, session token or SigV4
               signature named as such
  body         a fragment of a registration or event body ("detail-type":, "ProcessingJobArn":,
               an SNS "Type": "Notification", "source": "aws.…")

Exit 1 with FILE:LINE: KIND for each offending line (the secret itself is not printed), else 0.
--self-check runs the scan on a planted fixture, which must be flagged line for line, and on a
clean one, which must pass: the scanner can fail.
"""
import json
import os
import re
import sys
import tempfile

LEVELS_BELOW_INFO = {"trace", "debug"}
TEXT_LOG = re.compile(r"^\d{4}-\d\d-\d\dT\S+ (trace|debug|info|notice|warning|error|critical) ")

# Metadata keys whose values are ids by design, never secrets.
ID_KEYS = {"sqs.message_id", "aws.request_id", "store.replica", "outbox.id", "request_id", "requestId", "x-amzn-RequestId"}

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The key a value belongs to: `key=value` (text metadata) or `"key":"value"` (JSON).
KEY_BEFORE = re.compile(r'(?:"([\w.\-]+)"\s*:\s*"?|([\w.\-]+)=)[^=":]*$')
TOKEN_FIELD = re.compile(r'(?i)\\?"?task_?token\\?"?\s*[:=]\s*\\?"?(?!\\?"?<token)([^\s"\\,}]{4,})')
BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{64,}={0,2}")
BASE64URL_RUN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{64,}")
HEX_RUN = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64,}")
CREDENTIAL = [
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"(?i)(?:aws_secret_access_key|secretaccesskey|secret_access_key|aws_session_token|sessiontoken|x-amz-security-token)\\?\"?\s*[:=]"),
    re.compile(r"Signature=[0-9a-f]{16,}"),
    re.compile(r"Credential=[A-Z0-9]{16,}/"),
]
BODY = [
    re.compile(r'\\?"detail-type\\?"\s*:'),
    re.compile(r'\\?"(?:Processing|Training|Transform|HyperParameterTuning)JobArn\\?"\s*:'),
    re.compile(r'\\?"Type\\?"\s*:\s*\\?"Notification'),
    re.compile(r'\\?"source\\?"\s*:\s*\\?"aws\.'),
]


def level_of(line):
    """The log level of a log line, or None when it is not one."""
    if line.startswith("{"):
        try:
            value = json.loads(line)
        except ValueError:
            return None
        return value.get("level") if isinstance(value, dict) and isinstance(value.get("level"), str) else None
    match = TEXT_LOG.match(line)
    return match.group(1) if match else None


def is_base64_secret(run):
    # A real token mixes cases and digits; a long lowercase name with hyphens or a path does not.
    return (any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
            and not run.startswith("/"))


def in_path(line, match):
    """Whether a match is part of a path or URL (a temporary directory or a queue named with a
    UUID): a token is never one, and the service logs its queue URLs and database path at start."""
    start = max(line.rfind(c, 0, match.start()) for c in ' "=,')
    return "/" in line[start + 1:match.start()]


def findings(line):
    """The kinds of leak in one line, each with the span of what leaked."""
    found = []
    for match in TOKEN_FIELD.finditer(line):
        found.append(("task-token", match.span(1)))
    for match in UUID.finditer(line):
        key = KEY_BEFORE.search(line[:match.start()])
        name = key and (key.group(1) or key.group(2))
        if name not in ID_KEYS and not in_path(line, match):
            found.append(("uuid", match.span()))
    for pattern in (BASE64_RUN, BASE64URL_RUN):
        for match in pattern.finditer(line):
            if is_base64_secret(match.group()):
                found.append(("long-run", match.span()))
    for match in HEX_RUN.finditer(line):
        found.append(("long-run", match.span()))
    for pattern in CREDENTIAL:
        for match in pattern.finditer(line):
            found.append(("credential", match.span()))
    for pattern in BODY:
        for match in pattern.finditer(line):
            found.append(("body", match.span()))
    return found


def redacted(line, spans, width=160):
    """The line with every leaked span cut to its first 4 characters, shortened for a report."""
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(line[last:start] + line[start:min(end, start + 4)] + "…")
        last = end
    out.append(line[last:])
    text = "".join(out)
    return text if len(text) <= width else text[:width] + "…"


def scan_file(path, runner_output=False):
    problems = []
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip("\n")
            level = level_of(line)
            if level in LEVELS_BELOW_INFO:
                continue
            if runner_output and level is None:
                continue
            found = findings(line)
            if found:
                kinds = sorted({kind for kind, _ in found})
                problems.append((path, number, kinds, redacted(line, [span for _, span in found])))
    return problems


def scan(paths, runner_outputs=()):
    problems, files = [], 0
    for root in paths:
        if os.path.isfile(root):
            candidates = [root]
        else:
            candidates = [os.path.join(d, f) for d, _, names in os.walk(root) for f in sorted(names)]
        for path in candidates:
            files += 1
            problems += scan_file(path)
    for path in runner_outputs:
        if os.path.exists(path):
            files += 1
            problems += scan_file(path, runner_output=True)
    return problems, files


PLANTED = [
    ('{"timestamp":"2026-12-04T01:00:00.000Z","level":"info","message":"callback.delivered","logger":"sagemaker-callback","callback":"8d0e7c52-5a1f-4c1e-9d7b-2f1b0c9e4a11"}', "uuid"),
    ("2026-12-04T01:00:00+0000 warning sagemaker-callback : token=AQCEAAAAKgAAAAMAAAAAAAAAAWJ3JbDqT0p8vT5n3XQ1bq2ZqPj7m4r0Zk1y9uGQ7T3rFz8rY1nKqLwE2cVbXo [Relay] callback.retry_later", "long-run"),
    ('{"timestamp":"2026-12-04T01:00:00.000Z","level":"warning","message":"message.rejected","logger":"sagemaker-callback","body":"{\\"TaskToken\\":\\"abcd1234efgh\\",\\"ProcessingJobName\\":\\"x\\"}"}', "task-token"),
    ("2026-12-04T01:00:00+0000 error sagemaker-callback : aws.credentials=AKIAIOSFODNN7EXAMPLE [AWS] credentials.resolved", "credential"),
    ('{"timestamp":"2026-12-04T01:00:00.000Z","level":"notice","message":"message.ignored","logger":"sagemaker-callback","event":"{\\"detail-type\\":\\"SageMaker Processing Job State Change\\"}"}', "body"),
    ("sagemaker-callback: the SendTaskSuccess call failed: Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE12345678/20261204/us-east-1/states/aws4_request, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", "credential"),
]

CLEAN = [
    "2026-12-04T01:00:00+0000 debug sagemaker-callback : token=8d0e7c52-5a1f-4c1e-9d7b-2f1b0c9e4a11 body={\"TaskToken\":\"AQCEAAAAKgAAAAMAAAAAAAAAAWJ3JbDqT0p8vT5n3XQ1bq2ZqPj7m4r0Zk1y9uGQ7T3rFz8rY1nKqLwE2cVbXo\"} [Relay] message.processed",
    '{"timestamp":"2026-12-04T01:00:00.000Z","level":"debug","message":"message.processed","logger":"sagemaker-callback","token":"8d0e7c52-5a1f-4c1e-9d7b-2f1b0c9e4a11"}',
    '{"timestamp":"2026-12-04T01:00:00.000Z","level":"info","message":"callback.delivered","logger":"sagemaker-callback","token.hash":"3f9a0c1b2d4e","sqs.message_id":"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9","job.name":"my-very-long-processing-job-name-that-is-sixty-three-characters1"}',
    "2026-12-04T01:00:00+0000 warning sagemaker-callback : decision=rejected(TaskToken longer than 2048 characters) sqs.message_id=0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 [Relay] message.rejected",
    '{"timestamp":"2026-12-04T01:00:00.000Z","level":"warning","message":"message.rejected","logger":"sagemaker-callback","body":"{\\"TaskToken\\":\\"<token 3f9a0c1b2d4e>\\"}"}',
    "2026-12-04T01:00:00+0000 info sagemaker-callback : sqs.events_queue_url=http://127.0.0.1:4566/000000000000/run-8d0e7c52-5a1f-4c1e-9d7b-2f1b0c9e4a11-events store.database=/tmp/loadbench-81973099-DEDD-449D-9DC4-F75E3AF38A2E/callbacks.sqlite [Relay] relay.starting",
    "2026-12-04T01:00:00+0000 info sagemaker-callback : store.location=/work/wt-storefaults/.build/x86_64-unknown-linux-gnu/debug/TestsIntegrationTestsStoreFaultTestsAndMore/state.sqlite [Relay] relay.starting",
]


def self_check():
    """The scanner flags every planted line with its kind, and nothing of the clean fixture."""
    with tempfile.TemporaryDirectory() as directory:
        planted = os.path.join(directory, "planted.log")
        with open(planted, "w") as handle:
            handle.write("\n".join(line for line, _ in PLANTED) + "\n")
        clean = os.path.join(directory, "clean.log")
        with open(clean, "w") as handle:
            handle.write("\n".join(CLEAN) + "\n")
        flagged = {number: kinds for _, number, kinds, _ in scan_file(planted)}
        wrong = [f"planted line {n}: expected {kind}, got {flagged.get(n)}" for n, (_, kind) in enumerate(PLANTED, 1)
                 if kind not in flagged.get(n, [])]
        wrong += [f"clean line {number}: flagged {kinds}: {text}" for _, number, kinds, text in scan_file(clean)]
    if wrong:
        print("scan-logs self-check FAILED:\n  " + "\n  ".join(wrong))
        return 1
    print(f"scan-logs self-check: {len(PLANTED)} planted leaks flagged, {len(CLEAN)} clean lines passed")
    return 0


def main(argv):
    if argv == ["--self-check"]:
        return self_check()
    paths, runner = [], []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--runner-output":
            runner.append(next(arguments))
        else:
            paths.append(argument)
    if not paths and not runner:
        print(__doc__)
        return 64
    problems, files = scan([p for p in paths if os.path.exists(p)], runner)
    for path, number, kinds, text in problems:
        print(f"{path}:{number}: {', '.join(kinds)}: {text}")
    if problems:
        print(f"scan-logs: {len(problems)} lines above debug leak a token, a credential or a body ({files} files)")
        return 1
    print(f"scan-logs: {files} files, no token, credential or body in any line above debug")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
