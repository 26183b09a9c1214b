// What came of a project: publications (title, venue, year, DOI), datasets, software, student theses and events,
// recorded by its members and counted in the programme report.
import Fluent
import Foundation
import Vapor

struct ProjectOutputInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case kind, title, venue, year, doi, url }
    typealias Fields = CodingKeys
    var kind: String?
    var title: String?
    var venue: String?
    /// A number in JSON; forms send text.
    var year: String?
    var doi: String?
    var url: String?

    init(kind: String? = nil, title: String? = nil, venue: String? = nil, year: String? = nil, doi: String? = nil, url: String? = nil) {
        (self.kind, self.title, self.venue, self.year, self.doi, self.url) = (kind, title, venue, year, doi, url)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        venue = try c.decodeIfPresent(String.self, forKey: .venue)
        if decoder.userInfo[.jsonInput] as? Bool == true {
            year = try c.decodeIfPresent(Int.self, forKey: .year).map(String.init)   // JSON: a number or null, never text
        } else if let number = try? c.decodeIfPresent(Int.self, forKey: .year) {
            year = String(number)
        } else {
            year = try c.decodeIfPresent(String.self, forKey: .year)
        }
        doi = try c.decodeIfPresent(String.self, forKey: .doi)
        url = try c.decodeIfPresent(String.self, forKey: .url)
    }
}

extension ProjectOutputInput: APIInput {
    static let schema = JSONSchema.object([
        "kind": .choice(ProjectOutputKind.self), "title": .text(max: 500), "venue": .string(maxLength: 300), "year": .integer(minimum: 1900, maximum: 2200),
        "doi": .string(maxLength: 200, pattern: "^ *$|^ *10\\..*/"), "url": .string(maxLength: 500, pattern: "^ *$|^ *https?://"),
    ], required: ["kind", "title"])
}

struct ProjectOutputDTO: Content {
    var id: UUID
    var projectID: UUID
    var kind: String
    var title: String
    var venue: String
    var year: Int?
    var doi: String?
    var url: String?
    var recordedBy: String
    var recordedByID: UUID
    var createdAt: Date
}

extension ProjectOutputDTO: APIBody {
    static let schemaName = "ProjectOutput"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "projectID": .string(format: "uuid"), "kind": .choice(ProjectOutputKind.self), "title": .string(), "venue": .string(),
        "year": .integer(), "doi": .string(), "url": .string(), "recordedBy": .string(), "recordedByID": .string(format: "uuid"),
        "createdAt": .string(format: "date-time"),
    ], required: ["id", "projectID", "kind", "title", "venue", "recordedBy", "recordedByID", "createdAt"])
    static let samples = [ProjectOutputDTO(id: Sample.id, projectID: Sample.id, kind: "publication", title: "Folding at scale", venue: "NeurIPS", year: 2026,
                                           doi: "10.1000/xyz", url: "https://example.org/paper", recordedBy: "Ada", recordedByID: Sample.id,
                                           createdAt: Sample.date)]
}

enum ProjectOutputs {
    static func record(_ input: ProjectOutputInput, in project: ResearchProject, by user: User, on db: any Database) async throws -> ProjectOutput {
        var checks = InputChecks()
        let kind = checks.choice(input.kind, "kind", as: ProjectOutputKind.self)
        let title = checks.text(input.title, "title", max: 500)
        let venue = checks.text(input.venue, "venue", max: 300, required: false) ?? ""
        var year: Int?
        if let text = input.year?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            if let number = Int(text), (1900...2200).contains(number) { year = number } else { checks.add("year is a year such as 2026.") }
        }
        let doi = checks.text(input.doi, "doi", max: 200, required: false).flatMap { $0.isEmpty ? nil : $0 }
        if let doi, !(doi.hasPrefix("10.") && doi.contains("/")) { checks.add("doi looks like 10.1234/abc (without https://doi.org/).") }
        let url = checks.text(input.url, "url", max: 500, required: false).flatMap { $0.isEmpty ? nil : $0 }
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url) == nil {
            checks.add("url is a web address starting with https://.")
        }
        try checks.finish()
        let output = ProjectOutput()
        output.$project.id = try project.requireID()
        (output.kind, output.title, output.venue, output.year, output.doi, output.url) = (kind!, title!, venue, year, doi, url)
        output.$recordedBy.id = try user.requireID()
        output.createdAt = Date()
        try await output.create(on: db)
        return output
    }

    static func list(_ projectIDs: [UUID], on db: any Database) async throws -> [ProjectOutputDTO] {
        guard !projectIDs.isEmpty else { return [] }
        return try await ProjectOutput.query(on: db).filter(\.$project.$id ~~ projectIDs).with(\.$recordedBy).sort(\.$year, .descending).sort(\.$createdAt).all()
            .map(dto)
    }

    static func dto(_ output: ProjectOutput) throws -> ProjectOutputDTO {
        ProjectOutputDTO(id: try output.requireID(), projectID: output.$project.id, kind: output.kind.rawValue, title: output.title, venue: output.venue,
                         year: output.year, doi: output.doi, url: output.url, recordedBy: output.$recordedBy.value?.displayName ?? "",
                         recordedByID: output.$recordedBy.id, createdAt: output.createdAt)
    }
}
