import AWS
import Foundation
import JSON
import Moto
import Relay
import SigV4
import CallbackStore
import Store
import Testing

/// Signatures proven against a server that checks them: moto with request authentication on.
/// Its state machine interpreter cannot call SQS then, so registrations go straight to the queue
/// with made-up tokens; Step Functions answering `TaskDoesNotExist` (not 403) to the service's
/// SendTaskSuccess is the proof that the signed call was accepted.
@Suite("Signatures against moto with authentication on", .timeLimit(.minutes(3)))
struct SignatureTests {
    /// Creates an IAM user with a policy, its access key, and a role it may assume, through
    /// boto3 (IAM speaks the query protocol); returns the user's keys and the role ARN.
    static func createIdentity(_ endpoint: String) throws -> (user: Credentials, roleArn: String) {
        let script = """
            import boto3, json, sys
            iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
            policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:*", "states:*", "sagemaker:*", "events:*", "sts:AssumeRole"], "Resource": "*"}]})
            iam.create_user(UserName="relay")
            iam.put_user_policy(UserName="relay", PolicyName="relay", PolicyDocument=policy)
            key = iam.create_access_key(UserName="relay")["AccessKey"]
            trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/relay"}, "Action": "sts:AssumeRole"}]})
            role = iam.create_role(RoleName="relay-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            iam.put_role_policy(RoleName="relay-role", PolicyName="relay", PolicyDocument=policy)
            print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"], "role": role}))
            """
        let answer = try boto3(script, arguments: [endpoint])
        let user = Credentials(accessKeyID: answer["id"]?.stringValue ?? "", secretAccessKey: answer["secret"]?.stringValue ?? "")
        return (user, answer["role"]?.stringValue ?? "")
    }

    /// Runs a boto3 script with moto's interpreter (IAM and STS speak the query protocol, which
    /// only the tests need) and reads the JSON it prints.
    static func boto3(_ script: String, arguments: [String]) throws -> JSONValue {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try MotoServer.executable()).deletingLastPathComponent().appendingPathComponent("python3")
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONValue.parse(Array(data))
    }

    /// Session credentials from STS AssumeRole, signed with the user's keys.
    static func assumeRole(_ moto: MotoServer, user: Credentials, roleArn: String) async throws -> Credentials {
        let script = """
            import boto3, json, sys
            sts = boto3.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
            c = sts.assume_role(RoleArn=sys.argv[4], RoleSessionName="relay")["Credentials"]
            print(json.dumps({"id": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"]}))
            """
        let answer = try boto3(script, arguments: [moto.endpoint, user.accessKeyID, user.secretAccessKey, roleArn])
        return Credentials(
            accessKeyID: answer["id"]?.stringValue ?? "", secretAccessKey: answer["secret"]?.stringValue ?? "",
            sessionToken: answer["token"]?.stringValue
        )
    }

    /// Runs `serve` with `credentials`, registers a made-up token and sends its job's terminal
    /// event; returns how the store recorded the token once the service has dealt with it.
    static func roundTrip(_ emulator: Emulator, credentials: Credentials, token: String, job: String) async throws -> String? {
        var environment = emulator.serviceEnvironment
        environment["AWS_ACCESS_KEY_ID"] = credentials.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = credentials.secretAccessKey
        environment["AWS_SESSION_TOKEN"] = credentials.sessionToken
        let service = try ServiceProcess(["serve"], environment: environment, log: emulator.directory.appendingPathComponent("\(job).log"))
        let sqs = SQS(client: try emulator.moto.client(credentials: credentials))
        try await sqs.sendMessage(queueURL: emulator.deployment.requestsQueueURL, body: #"{"TaskToken":"\#(token)","ProcessingJobName":"\#(job)"}"#)
        let event: JSONObject = [
            "detail-type": "SageMaker Processing Job State Change", "source": "aws.sagemaker",
            "detail": .object(LocalDeployment.processingDetail(job, status: "Completed")),
        ]
        try await sqs.sendMessage(queueURL: emulator.deployment.eventsQueueURL, body: JSONValue.object(event).serialized())
        var result: String?
        defer { if result == nil { print(service.output.suffix(3000)) } }
        // A message sent while the previous instance shut down may wait out the visibility timeout.
        try await emulator.eventually("the service deals with \(job)", timeout: .seconds(75)) {
            result = try emulator.read { try $0.closedToken(tokenHash: TaskTokens.hash(token)) }?.result
            return result?.hasPrefix("already closed") == true || result == "succeeded"
        }
        #expect(try await service.terminate().status == 0)
        return result
    }

    @Test("serve's calls are accepted with an IAM user's keys and with AssumeRole session credentials; a wrong secret is refused at once")
    func signedCalls() async throws {
        let emulator = try await Emulator.start("signed", dedicated: true)
        defer { emulator.stop() }
        let (user, roleArn) = try Self.createIdentity(emulator.moto.endpoint)
        #expect(user.accessKeyID.hasPrefix("AKIA"))
        try await emulator.moto.resetAuthentication(unauthenticatedRequests: 0)

        let first = try await Self.roundTrip(emulator, credentials: user, token: "signed-token-1", job: "signed-job-1")
        #expect(first?.hasPrefix("already closed:") == true, "SendTaskSuccess was accepted and answered for the made-up token: \(first ?? "nil")")

        let session = try await Self.assumeRole(emulator.moto, user: user, roleArn: roleArn)
        #expect(session.sessionToken?.isEmpty == false)
        let second = try await Self.roundTrip(emulator, credentials: session, token: "signed-token-2", job: "signed-job-2")
        #expect(second?.hasPrefix("already closed:") == true, "\(second ?? "nil")")

        let wrong = Credentials(accessKeyID: user.accessKeyID, secretAccessKey: "not-the-secret")
        let start = ContinuousClock.now
        do {
            _ = try await SQS(client: try emulator.moto.client(credentials: wrong)).receiveMessages(
                queueURL: emulator.deployment.eventsQueueURL, waitSeconds: 0)
            Issue.record("a wrong secret must be refused")
        } catch let error as AWSError {
            #expect(error.code == "SignatureDoesNotMatch", "\(error)")
            #expect(error.httpStatus == 403)
            #expect(RetryableFailure.classify(code: error.code, httpStatus: error.httpStatus) == .permanent)
        }
        #expect(ContinuousClock.now - start < .seconds(10), "refused at once, not after a retry loop")
    }
}
