// Every API list pages the same way: `?page=&per=`, from page 1, 50 a page by default, at most 500.
import Vapor

struct ListPageQuery: Decodable { var page: Int?; var per: Int? }

extension Request {
    /// The list's page and size from the query; 400 when they are not numbers.
    func listPage() throws -> (number: Int, per: Int) {
        let query = try self.query.decode(ListPageQuery.self)
        return (min(max(query.page ?? 1, 1), 1_000_000), max(1, min(query.per ?? 50, 500)))
    }
}
