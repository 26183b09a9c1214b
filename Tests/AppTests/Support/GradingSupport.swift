// Helpers for grading tests: zips built for real, multipart hand-ins, and a worker that runs until the queue is empty.
import Foundation
import Fluent
import Vapor
import VaporTesting
import Grading
@testable import App

enum TestZip {
    static func make(_ files: [String: String]) throws -> Data {
        try SafeArchive.make(files.mapValues { Data($0.utf8) }, keepingNames: true)  // hostile names stay hostile
    }
}

extension Application {
    /// Hands in files through the API (multipart, field `files`), as a client does.
    func handIn(_ assignmentID: UUID, files: [String: Data], as headers: HTTPHeaders) async throws -> TestingHTTPResponse {
        try await postMultipart("api/v1/assignments/\(assignmentID)/submissions", files: files, as: headers)
    }

    /// A multipart/form-data POST: text fields, and files in parts named `files`.
    func postMultipart(_ path: String, fields: [String: String] = [:], files: [String: Data], as headers: HTTPHeaders) async throws -> TestingHTTPResponse {
        let boundary = "----cc-\(UUID().uuidString)"
        var body = Data()
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
            body.append(data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        var all = headers
        all.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
        return try await testing().sendRequest(.POST, path, headers: all, body: ByteBuffer(data: body))
    }

    /// Runs queued grading jobs in this process until none is left.
    func drainGradingQueue(worker: String = "test-worker") async throws {
        let worker = JobWorker(app: self, name: worker, lease: 60)
        while try await worker.runOnce() {}
    }

    func course(_ code: String) async throws -> Course {
        try await Course.query(on: db).filter(\.$code == code).first()!
    }
}
