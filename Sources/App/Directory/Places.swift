// Creating and changing programmes, courses and research projects. Who may do it is the policy's business (the
// controllers ask it first); these functions check the input and write, or throw every problem and write nothing.
import Fluent
import Foundation
import Vapor

struct ProgrammeInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case name, partnerOrganisation, startsOn, endsOn, description }
    typealias Fields = CodingKeys
    var name: String?
    var partnerOrganisation: String?
    var startsOn: String?
    var endsOn: String?
    var description: String?
}

extension ProgrammeInput: APIInput {
    /// Dates are YYYY-MM-DD.
    static let schema = JSONSchema.object(["name": .text(), "partnerOrganisation": .text(), "startsOn": .day, "endsOn": .day,
                                           "description": .optionalText(max: 5000)], required: ["name", "partnerOrganisation", "startsOn", "endsOn"])
}

struct CourseInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case code, title, term, startsOn, endsOn }
    typealias Fields = CodingKeys
    var code: String?
    var title: String?
    var term: String?
    var startsOn: String?
    var endsOn: String?
}

extension CourseInput: APIInput {
    static let schema = JSONSchema.object(["code": .text(max: 40), "title": .text(), "term": .text(max: 60), "startsOn": .day, "endsOn": .day],
                                          required: ["code", "title", "term", "startsOn", "endsOn"])
}

struct ProjectInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case title, summary, status, startsOn, endsOn, tags }
    typealias Fields = CodingKeys
    var title: String?
    var summary: String?
    var status: String?
    /// YYYY-MM-DD; an empty text clears it.
    var startsOn: String?
    var endsOn: String?
    /// Comma-separated.
    var tags: String?
}

extension ProjectInput: APIInput {
    /// Dates YYYY-MM-DD (empty clears), tags comma-separated.
    static let schema = JSONSchema.object([
        "title": .text(), "summary": .optionalText(max: 5000), "status": .choice(ProjectStatus.self),
        "startsOn": .string(pattern: "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), "endsOn": .string(pattern: "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        "tags": .string(pattern: "^[^,]{0,40}(,[^,]{0,40}){0,19}$"),
    ], required: ["title"])
}

/// A research project's status; the research issue adds its lifecycle rules.
enum ProjectStatus: String, CaseIterable, Sendable { case draft, submitted, active, completed, rejected, archived }

enum Places {
    // MARK: Programmes

    static func createProgramme(_ input: ProgrammeInput, on db: any Database) async throws -> Programme {
        var checks = InputChecks()
        let name = checks.text(input.name, "name"), partner = checks.text(input.partnerOrganisation, "partnerOrganisation")
        let starts = checks.date(input.startsOn, "startsOn"), ends = checks.date(input.endsOn, "endsOn")
        let description = checks.text(input.description, "description", max: 5000, required: false) ?? ""
        checks.order(starts, ends)
        try checks.finish()
        if try await Programme.query(on: db).filter(\.$name == name!).first() != nil {
            throw InputRejection.conflict("There is already a programme called \(name!).")
        }
        let programme = Programme(name: name!, partnerOrganisation: partner!, startsOn: starts!, endsOn: ends!, description: description)
        try await programme.create(on: db)
        return programme
    }

    /// Changes the fields that are given; the others stay.
    static func updateProgramme(_ programme: Programme, _ input: ProgrammeInput, on db: any Database) async throws {
        var checks = InputChecks()
        let name = input.name.flatMap { checks.text($0, "name") }
        let partner = input.partnerOrganisation.flatMap { checks.text($0, "partnerOrganisation") }
        let starts = input.startsOn.flatMap { checks.date($0, "startsOn") }, ends = input.endsOn.flatMap { checks.date($0, "endsOn") }
        let description = input.description.flatMap { checks.text($0, "description", max: 5000, required: false) }
        checks.order(starts ?? programme.startsOn, ends ?? programme.endsOn)
        try checks.finish()
        if let name, name != programme.name, try await Programme.query(on: db).filter(\.$name == name).first() != nil {
            throw InputRejection.conflict("There is already a programme called \(name).")
        }
        if let name { programme.name = name }
        if let partner { programme.partnerOrganisation = partner }
        if let starts { programme.startsOn = starts }
        if let ends { programme.endsOn = ends }
        if let description { programme.description = description }
        try await programme.save(on: db)
    }

    // MARK: Courses

    /// A new course; `instructor` (a course creator) is made its instructor in the same transaction.
    static func createCourse(in programme: Programme, _ input: CourseInput, instructor: UUID? = nil, on db: any Database) async throws -> Course {
        var checks = InputChecks()
        let code = checks.text(input.code, "code", max: 40), title = checks.text(input.title, "title"), term = checks.text(input.term, "term", max: 60)
        let starts = checks.date(input.startsOn, "startsOn"), ends = checks.date(input.endsOn, "endsOn")
        checks.order(starts, ends)
        try checks.finish()
        let programmeID = try programme.requireID()
        try await requireUnique(code: code!, term: term!, in: programmeID, except: nil, on: db)
        let course = Course(programmeID: programmeID, code: code!, title: title!, term: term!, startsOn: starts!, endsOn: ends!)
        try await db.transaction { db in
            try await course.create(on: db)
            if let instructor { try await CourseMember(courseID: course.requireID(), userID: instructor, role: .instructor).create(on: db) }
        }
        return course
    }

    static func updateCourse(_ course: Course, _ input: CourseInput, on db: any Database) async throws {
        var checks = InputChecks()
        let code = input.code.flatMap { checks.text($0, "code", max: 40) }, title = input.title.flatMap { checks.text($0, "title") }
        let term = input.term.flatMap { checks.text($0, "term", max: 60) }
        let starts = input.startsOn.flatMap { checks.date($0, "startsOn") }, ends = input.endsOn.flatMap { checks.date($0, "endsOn") }
        checks.order(starts ?? course.startsOn, ends ?? course.endsOn)
        try checks.finish()
        if code != nil || term != nil {
            try await requireUnique(code: code ?? course.code, term: term ?? course.term, in: course.$programme.id, except: course.id, on: db)
        }
        if let code { course.code = code }
        if let title { course.title = title }
        if let term { course.term = term }
        if let starts { course.startsOn = starts }
        if let ends { course.endsOn = ends }
        try await course.save(on: db)
    }

    private static func requireUnique(code: String, term: String, in programmeID: UUID, except: UUID?, on db: any Database) async throws {
        let clash = try await Course.query(on: db).filter(\.$programme.$id == programmeID).filter(\.$code == code).filter(\.$term == term).first()
        if let clash, clash.id != except { throw InputRejection.conflict("The programme already has \(code) in \(term).") }
    }

    // MARK: Research projects

    static func createProject(in programme: Programme, _ input: ProjectInput, on db: any Database) async throws -> ResearchProject {
        var checks = InputChecks()
        let title = checks.text(input.title, "title"), summary = checks.text(input.summary, "summary", max: 5000, required: false) ?? ""
        let status = input.status.map { checks.choice($0, "status", as: ProjectStatus.self) } ?? .draft
        let (starts, ends, tags) = projectDetails(input, &checks)
        checks.order(starts ?? nil, ends ?? nil)
        try checks.finish()
        let project = ResearchProject(programmeID: try programme.requireID(), title: title!, summary: summary, status: status!.rawValue)
        project.startsOn = starts ?? nil
        project.endsOn = ends ?? nil
        project.tags = tags ?? ""
        try await project.create(on: db)
        return project
    }

    /// Dates and tags as given: nil when not given, .some(nil) for a date cleared with an empty text.
    private static func projectDetails(_ input: ProjectInput, _ checks: inout InputChecks) -> (Date??, Date??, String?) {
        func day(_ text: String?, _ label: String) -> Date?? {
            guard let text else { return nil }
            if text.trimmingCharacters(in: .whitespaces).isEmpty { return .some(nil) }
            return checks.date(text, label).map { .some($0) } ?? nil
        }
        let starts = day(input.startsOn, "startsOn"), ends = day(input.endsOn, "endsOn")
        var tags: String?
        if let text = input.tags {
            let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if list.count > 20 || list.contains(where: { $0.count > 40 }) { checks.add("tags are at most 20, each at most 40 characters.") }
            tags = list.joined(separator: ", ")
        }
        return (starts, ends, tags)
    }

    static func updateProject(_ project: ResearchProject, _ input: ProjectInput, on db: any Database) async throws {
        var checks = InputChecks()
        let title = input.title.flatMap { checks.text($0, "title") }
        let summary = input.summary.flatMap { checks.text($0, "summary", max: 5000, required: false) }
        let status = input.status.flatMap { checks.choice($0, "status", as: ProjectStatus.self) }
        let (starts, ends, tags) = projectDetails(input, &checks)
        checks.order(starts.map { $0 } ?? project.startsOn, ends.map { $0 } ?? project.endsOn)
        try checks.finish()
        if let title { project.title = title }
        if let summary { project.summary = summary }
        if let starts { project.startsOn = starts }
        if let ends { project.endsOn = ends }
        if let tags { project.tags = tags }
        if let status { project.status = status.rawValue }
        try await project.save(on: db)
    }
}
