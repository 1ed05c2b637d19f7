import TrailPostgres
import XCTest

final class PostgresEngineTests: XCTestCase {
    func testName() {
        XCTAssertEqual(PostgresEngine.name, "postgres")
    }
}
