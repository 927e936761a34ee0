import Foundation
import TestSupport
import TraceFormat

/// One run of `Scripts/guest/real-vfio.sh` in the guest rig (`Scripts/vfio-guest.sh`), shared by the tests:
/// a real vfio-pci driver (QEMU's `edu` device behind an emulated Intel IOMMU), the bundled VFIO client and
/// Debian's QEMU, recorded by the vfiotrace binary built with this package.
enum GuestRun {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repository.appendingPathComponent("Scripts/vfio-guest.sh").path

    static var vfiotrace: String { BuildProducts.path("vfiotrace") }

    /// Whether the rig can run here; when not, prints why (the check's own words) so the skip is explained.
    static let available: Bool = {
        let (status, output) = run(script, ["check"])
        if status != 0 { print("real VFIO tests skipped: \(output.trimmingCharacters(in: .whitespacesAndNewlines))") }
        return status == 0
    }()

    /// The folder the guest filled, or why it could not.
    static let outcome: Result<String, GuestFailure> = {
        // One folder per run under a common parent; earlier runs' folders go (the latest stays for a look).
        let parent = NSTemporaryDirectory() + "vfiotrace-guest-runs"
        for old in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
            try? FileManager.default.removeItem(atPath: parent + "/" + old)
        }
        let out = parent + "/\(UUID().uuidString)"
        let guest = repository.appendingPathComponent("Scripts/guest/real-vfio.sh").path
        let (status, output) = run(script, ["run", "-o", out, "-t", "600", "--", "sh '\(guest)' '\(BuildProducts.directory.path)'"])
        guard status == 0, output.contains("done") else { return .failure(GuestFailure(status: status, output: output, folder: out)) }
        return .success(out)
    }()

    static func folder() throws -> String { try outcome.get() }

    /// Runs a program to completion; returns its status and its stdout and stderr together.
    @discardableResult
    static func run(_ program: String, _ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "cannot run \(program): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs the vfiotrace binary; fails the test with its output when it does not exit with `expect`.
    @discardableResult
    static func vfiotrace(_ args: [String], expect: Int32 = 0) throws -> String {
        let (status, output) = run(vfiotrace, args)
        guard status == expect else { throw GuestFailure(status: status, output: "vfiotrace \(args.joined(separator: " ")): \(output)", folder: "") }
        return output
    }

    /// edu's PCI address in the guest, as the client logged it when it opened the device.
    static func bdf(_ folder: String) -> String {
        let log = text(folder, "client.jsonl")
        guard let r = log.range(of: "\"device\":\""), let end = log[r.upperBound...].firstIndex(of: "\"") else { return "?" }
        return String(log[r.upperBound..<end])
    }

    static func text(_ folder: String, _ name: String) -> String {
        (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
    }

    /// A JSON Lines file as objects.
    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            guard let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else {
                throw GuestFailure(status: 0, output: "not a JSON object: \($0)", folder: path)
            }
            return o
        }
    }
}

/// The guest did not get through its script; carries its output and where its console log is.
struct GuestFailure: Error, CustomStringConvertible {
    var status: Int32
    var output: String
    var folder: String
    var description: String { "guest rig failed (status \(status): \(meaning)); console log in \(folder)/.guest-console:\n\(output)" }

    /// What `vfio-guest.sh run` means by its exit status (see its header); other values are the command's own.
    var meaning: String {
        switch status {
        case 3: "the guest cannot run on this machine"
        case 4: "the command timed out"
        case 5: "the guest did not boot after retries, or died while the command ran"
        default: "the command in the guest failed"
        }
    }
}
