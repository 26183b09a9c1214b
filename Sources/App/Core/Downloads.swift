// Files people download (CSV exports, zips of hand-ins and job outputs): the media type, and a file name kept to
// letters, digits, space and - _ . @ whatever the names it is made of hold.
import Foundation
import Vapor

extension Response {
    static func download(_ data: Data, type: HTTPMediaType, filename: String) -> Response {
        let response = Response(status: .ok, body: .init(data: data))
        response.headers.contentType = type
        let safe = filename.map { $0.isLetter || $0.isNumber || " -_.@".contains($0) ? $0 : "_" }
        response.headers.contentDisposition = .init(.attachment, filename: String(safe))
        return response
    }

    static func csvDownload(_ text: String, filename: String) -> Response {
        download(Data(text.utf8), type: HTTPMediaType(type: "text", subType: "csv", parameters: ["charset": "utf-8"]), filename: filename)
    }
}
