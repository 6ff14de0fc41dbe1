import AWS
import CallbackStore
import Foundation
@testable import Relay
import Testing

/// What `doctor` says of each probe answer.
@Suite("doctor probes")
struct DoctorTests {
    @Test("an unknown-token answer proves the permission", arguments: ["TaskDoesNotExist", "InvalidToken"])
    func allowed(code: String) async {
        let check = await Doctor.probe("states:SendTaskHeartbeat", accepted: StepFunctions.taskClosedCodes) {
            throw AWSError(code: code, message: "no such task", httpStatus: 400, operation: "SendTaskHeartbeat")
        }
        #expect(check.passed)
    }

    @Test("AccessDenied is told apart from other errors")
    func denied() async {
        let denied = await Doctor.probe("states:SendTaskHeartbeat", accepted: StepFunctions.taskClosedCodes) {
            throw AWSError(code: "AccessDeniedException", message: "not authorized", httpStatus: 400, operation: "SendTaskHeartbeat")
        }
        #expect(!denied.passed)
        #expect(denied.detail.hasPrefix("denied: AccessDeniedException"))
        #expect(!"\(denied)".contains("\n"))
        let throttled = await Doctor.probe("states:SendTaskHeartbeat", accepted: StepFunctions.taskClosedCodes) {
            throw AWSError(code: "ThrottlingException", message: "slow down", httpStatus: 400, operation: "SendTaskHeartbeat")
        }
        #expect(!throttled.passed)
        #expect(throttled.detail.hasPrefix("ThrottlingException"))
    }

    @Test("a database in a folder that cannot be written fails; a new one in a writable folder passes")
    func database() async {
        #expect(!(await Doctor.database(.sqlite(path: "/proc/no-such-dir/x.sqlite")))[0].passed)
        #expect(
            await Doctor.database(.sqlite(path: FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID()).sqlite").path))[0]
                .passed)
    }
}
