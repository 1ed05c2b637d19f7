import XCTest

@testable import TrailPostgres

final class PostgresLocationTests: XCTestCase {
    private func parse(_ url: String, file: StaticString = #filePath, line: UInt = #line) throws -> PostgresLocation {
        do {
            return try PostgresLocation(parsing: url)
        } catch {
            XCTFail("\(url): \(error)", file: file, line: line)
            throw error
        }
    }

    private func assertRefused(_ url: String, _ expected: PostgresLocationError,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let location = try PostgresLocation(parsing: url)
            XCTFail("\(url) parsed as \(location), expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, url, file: file, line: line)
        }
    }

    // MARK: - Accepted forms

    func testTCPWithEverything() throws {
        let l = try parse("postgres://trail:s3cret@db.example.com:6543/notes")
        XCTAssertEqual(l.endpoint, .tcp(host: "db.example.com", port: 6543))
        XCTAssertEqual(l.user, "trail")
        XCTAssertEqual(l.password, "s3cret")
        XCTAssertEqual(l.database, "notes")
        XCTAssertNil(l.endpoint.socketPath)
    }

    func testPostgresqlSchemeDefaultPortNoPassword() throws {
        let l = try parse("postgresql://trail@127.0.0.1/trail")
        XCTAssertEqual(l.endpoint, .tcp(host: "127.0.0.1", port: 5432))
        XCTAssertNil(l.password)
        XCTAssertEqual(l.redacted, "postgres://trail@127.0.0.1:5432/trail")
    }

    func testSchemeIsCaseInsensitive() throws {
        XCTAssertEqual(try parse("POSTGRES://u@h/d").endpoint, .tcp(host: "h", port: 5432))
        XCTAssertEqual(try parse("PostgreSQL://u@h/d").database, "d")
    }

    func testEmptyPasswordIsAPassword() throws {
        XCTAssertEqual(try parse("postgres://trail:@h/d").password, "")
    }

    func testPercentDecodingOfEveryPart() throws {
        let l = try parse("postgres://a%40b%20c:p%3Aw%2F%40%23%25@h%2Dx:5432/my%20db%C3%A9")
        XCTAssertEqual(l.user, "a@b c")
        XCTAssertEqual(l.password, "p:w/@#%")
        XCTAssertEqual(l.endpoint, .tcp(host: "h-x", port: 5432))
        XCTAssertEqual(l.database, "my dbé")
    }

    func testPlusStaysPlus() throws {
        XCTAssertEqual(try parse("postgres://a+b:c+d@h/e+f").user, "a+b")
        XCTAssertEqual(try parse("postgres://a+b:c+d@h/e+f").database, "e+f")
    }

    func testUnencodedAtInPasswordReadsToTheLastAt() throws {
        let l = try parse("postgres://trail:p@ss@h/d")
        XCTAssertEqual(l.password, "p@ss")
        XCTAssertEqual(l.endpoint, .tcp(host: "h", port: 5432))
    }

    func testIPv6() throws {
        XCTAssertEqual(try parse("postgres://u@[::1]:6000/d").endpoint, .tcp(host: "::1", port: 6000))
        let l = try parse("postgres://u@[fe80::1]/d")
        XCTAssertEqual(l.endpoint, .tcp(host: "fe80::1", port: 5432))
        XCTAssertEqual(l.redacted, "postgres://u@[fe80::1]:5432/d")
    }

    func testUnixSocketByHostParameter() throws {
        let l = try parse("postgres://trail:pw@/trail?host=/run/postgresql")
        XCTAssertEqual(l.endpoint, .unixSocket(directory: "/run/postgresql", port: 5432))
        XCTAssertEqual(l.endpoint.socketPath, "/run/postgresql/.s.PGSQL.5432")
        XCTAssertEqual(l.redacted, "postgres://trail@:5432/trail?host=/run/postgresql")
    }

    func testUnixSocketPortNamesTheSocketFile() throws {
        let l = try parse("postgresql://trail@:5433/trail?host=%2Ftmp%2Fpg%20dir%2F")
        XCTAssertEqual(l.endpoint, .unixSocket(directory: "/tmp/pg dir/", port: 5433))
        XCTAssertEqual(l.endpoint.socketPath, "/tmp/pg dir/.s.PGSQL.5433")
        XCTAssertEqual(try parse("postgres://u@/d?host=/").endpoint.socketPath, "/.s.PGSQL.5432")
    }

    func testHostParameterOverridesTheHostBeforeIt() throws {
        XCTAssertEqual(try parse("postgres://u@localhost:5433/d?host=/var/run").endpoint,
                       .unixSocket(directory: "/var/run", port: 5433))
        XCTAssertEqual(try parse("postgres://u@/d?host=db.internal").endpoint, .tcp(host: "db.internal", port: 5432))
    }

    func testUnixSocketAsEncodedHost() throws {
        XCTAssertEqual(try parse("postgres://u@%2Fvar%2Frun%2Fpostgresql:5434/d").endpoint,
                       .unixSocket(directory: "/var/run/postgresql", port: 5434))
    }

    func testSSLModeDisable() throws {
        let l = try parse("postgres://u:pw@h:1/d?sslmode=disable")
        XCTAssertEqual(l.endpoint, .tcp(host: "h", port: 1))
        XCTAssertEqual(try parse("postgres://u@/d?sslmode=disable&host=/s").endpoint, .unixSocket(directory: "/s", port: 5432))
    }

    func testPortBounds() throws {
        XCTAssertEqual(try parse("postgres://u@h:65535/d").endpoint.port, 65535)
        XCTAssertEqual(try parse("postgres://u@h:1/d").endpoint.port, 1)
        XCTAssertEqual(try parse("postgres://u@h:00080/d").endpoint.port, 80)
    }

    func testRedactedParsesBackToTheSameLocationLessPassword() throws {
        for url in ["postgres://a%40b:pw@h:7/d%2Fx", "postgres://u:pw@[::1]:9/d", "postgres://u:pw@:6/d%20b?host=/a%20b/c",
                    "postgres://%C3%A9:pw@h%C3%A9/d"] {
            let l = try parse(url)
            let back = try parse(l.redacted)
            XCTAssertEqual(back, PostgresLocation(endpoint: l.endpoint, user: l.user, password: nil, database: l.database), url)
        }
    }

    // MARK: - Refused inputs

    func testNotAPostgresURL() {
        assertRefused("mysql://u@h/d", .notPostgresURL)
        assertRefused("sqlite:/tmp/x.db", .notPostgresURL)
        assertRefused("", .notPostgresURL)
        assertRefused("postgres:/u@h/d", .notPostgresURL)
        assertRefused("u@h/d", .notPostgresURL)
    }

    func testMissingOrEmptyUser() {
        assertRefused("postgres://h/d", .missingUser)
        assertRefused("postgres://h:5432/d", .missingUser)
        assertRefused("postgres://@h/d", .emptyUser)
        assertRefused("postgres://:pw@h/d", .emptyUser)
    }

    func testMissingHost() {
        assertRefused("postgres://u@/d", .missingHost)
        assertRefused("postgres://u:pw@:5432/d", .missingHost)
        assertRefused("postgres://u@/d?sslmode=disable", .missingHost)
    }

    func testMissingOrBadDatabase() {
        assertRefused("postgres://u@h", .missingDatabase)
        assertRefused("postgres://u@h:5432", .missingDatabase)
        assertRefused("postgres://u@h/", .missingDatabase)
        assertRefused("postgres://u@h/?host=/s", .missingDatabase)
        assertRefused("postgres://u@h/a/b", .badDatabase)
    }

    func testBadPort() {
        assertRefused("postgres://u@h:0/d", .badPort("0"))
        assertRefused("postgres://u@h:65536/d", .badPort("65536"))
        assertRefused("postgres://u@h:54x/d", .badPort("54x"))
        assertRefused("postgres://u@h:/d", .badPort(""))
        assertRefused("postgres://u@h:-1/d", .badPort("-1"))
        assertRefused("postgres://u@h:99999999999999999999/d", .badPort("99999999999999999999"))
        assertRefused("postgres://u@[::1]:x/d", .badPort("x"))
        assertRefused("postgres://u@h:５４/d", .badPort("５４"))
    }

    func testBadHost() {
        assertRefused("postgres://u@[::1/d", .badHost)
        assertRefused("postgres://u@[]/d", .badHost)
        assertRefused("postgres://u@[::1]x/d", .badHost)
    }

    func testBadPercentEncoding() {
        assertRefused("postgres://u%4@h/d", .badPercentEncoding(part: "user"))
        assertRefused("postgres://u:p%zz@h/d", .badPercentEncoding(part: "password"))
        assertRefused("postgres://u@h%/d", .badPercentEncoding(part: "host"))
        assertRefused("postgres://u@h/d%FF", .badPercentEncoding(part: "database"))
        assertRefused("postgres://u@h/d?host=%G0", .badPercentEncoding(part: "parameter host"))
    }

    func testParameters() {
        assertRefused("postgres://u@h/d?application_name=x", .unknownParameter("application_name"))
        assertRefused("postgres://u@h/d?port=5433", .unknownParameter("port"))
        assertRefused("postgres://u@h/d?sslmode=disable&sslmode=disable", .duplicateParameter("sslmode"))
        assertRefused("postgres://u@h/d?host", .badParameter)
        assertRefused("postgres://u@h/d?host=", .badParameter)
        assertRefused("postgres://u@h/d?=x", .badParameter)
        assertRefused("postgres://u@h/d#frag", .fragment)
    }

    // MARK: - TLS (sslmode, sslrootcert), as libpq reads them

    func testSSLModes() throws {
        let cases: [(String, PostgresTLS)] = [
            ("", .disable),
            ("?sslmode=disable", .disable),
            ("?sslmode=prefer", .prefer),
            ("?sslmode=require", .require),
            // libpq: require with a root certificate checks it, as verify-ca.
            ("?sslmode=require&sslrootcert=/etc/ca.pem", .verifyCA(.file("/etc/ca.pem"))),
            ("?sslmode=verify-ca&sslrootcert=/etc/ca.pem", .verifyCA(.file("/etc/ca.pem"))),
            ("?sslrootcert=/etc/my%20ca.pem&sslmode=verify-full", .verifyFull(.file("/etc/my ca.pem"))),
            ("?sslmode=verify-full&sslrootcert=system", .verifyFull(.system)),
            // libpq 16: sslrootcert=system alone means verify-full.
            ("?sslrootcert=system", .verifyFull(.system)),
        ]
        for (query, tls) in cases {
            let l = try parse("postgres://u:pw@db.example.com:5433/d" + query)
            XCTAssertEqual(l.tls, tls, query)
            // The redacted URL reads back as the same location, less the password.
            let again = try parse(l.redacted)
            XCTAssertEqual(again.tls, tls, l.redacted)
            XCTAssertEqual(again.endpoint, l.endpoint)
            XCTAssertFalse(l.redacted.contains("pw"), l.redacted)
        }
        let socket = try parse("postgres://u@/d?host=/run/postgresql&sslmode=require")
        XCTAssertEqual(socket.redacted, "postgres://u@:5432/d?host=/run/postgresql&sslmode=require")
        XCTAssertEqual(try parse("postgres://u@h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem").redacted,
                       "postgres://u@h:5432/d?sslmode=verify-full&sslrootcert=/etc/ca.pem")
    }

    // MARK: - Several hosts (failover), as libpq lists them

    func testHostLists() throws {
        let l = try parse("postgres://u:pw@db1:5432,db2,[::1]:6000/d?target_session_attrs=read-write&sslmode=require")
        XCTAssertEqual(l.endpoints, [.tcp(host: "db1", port: 5432), .tcp(host: "db2", port: 5432), .tcp(host: "::1", port: 6000)])
        XCTAssertEqual(l.endpoint, .tcp(host: "db1", port: 5432))
        XCTAssertEqual(l.targetSession, .readWrite)
        XCTAssertEqual(l.redacted, "postgres://u@db1:5432,db2:5432,[::1]:6000/d?target_session_attrs=read-write&sslmode=require")
        XCTAssertEqual(try parse(l.redacted), PostgresLocation(endpoints: l.endpoints, user: "u", password: nil, database: "d",
                                                                tls: .require, targetSession: .readWrite))
        XCTAssertEqual(l.at(l.endpoints[1]).redacted, "postgres://u@db2:5432/d?target_session_attrs=read-write&sslmode=require")
        XCTAssertEqual(try parse("postgres://u@h/d?target_session_attrs=primary").targetSession, .primary)
        XCTAssertEqual(try parse("postgres://u@h/d?target_session_attrs=any").targetSession, .any)
        XCTAssertEqual(try parse("postgres://u@h/d").targetSession, .any)
        // host= gives one host, with the authority's port.
        XCTAssertEqual(try parse("postgres://u@:5433/d?host=/run/pg").endpoints, [.unixSocket(directory: "/run/pg", port: 5433)])
    }

    func testHostListsRefused() {
        assertRefused("postgres://u@h1,,h2/d", .missingHost)
        assertRefused("postgres://u@h1,/d", .missingHost)
        assertRefused("postgres://u@h1,h2:x/d", .badPort("x"))
        assertRefused("postgres://u@/d?host=h1,h2", .hostListInParameter)
        assertRefused("postgres://u@h1,%2Frun%2Fpg/d", .socketInHostList)
        assertRefused("postgres://u@h/d?target_session_attrs=read-only", .unsupportedTargetSession("read-only"))
        assertRefused("postgres://u@h/d?target_session_attrs=standby", .unsupportedTargetSession("standby"))
    }

    // MARK: - Timeouts

    func testTimeouts() throws {
        let l = try parse("postgres://u@h/d?connect_timeout=3&statement_timeout=2s")
        XCTAssertEqual(l.timeouts, .init(connect: .seconds(3), statement: .seconds(2)))
        XCTAssertEqual(l.redacted, "postgres://u@h:5432/d?connect_timeout=3&statement_timeout=2000ms")
        XCTAssertEqual(try parse(l.redacted), l)
        XCTAssertEqual(l.at(l.endpoint).timeouts, l.timeouts)
        XCTAssertEqual(try parse("postgres://u@h/d?statement_timeout=250").timeouts.statement, .milliseconds(250))
        XCTAssertEqual(try parse("postgres://u@h/d?statement_timeout=250ms").timeouts.statement, .milliseconds(250))
        XCTAssertEqual(try parse("postgres://u@h/d?statement_timeout=1min").timeouts.statement, .seconds(60))
        XCTAssertEqual(try parse("postgres://u@h/d").timeouts, .init())
        XCTAssertEqual(PostgresConnector(location: try parse("postgres://u@h/d?connect_timeout=7")).connectTimeout, .seconds(7))
        XCTAssertEqual(PostgresConnector(location: try parse("postgres://u@h/d")).connectTimeout, PostgresConnector.defaultConnectTimeout)
    }

    func testTimeoutsRefused() {
        for bad in ["0", "-1", "3601", "1.5", "2s", "x"] {
            assertRefused("postgres://u@h/d?connect_timeout=\(bad)", .badTimeout(parameter: "connect_timeout", value: bad))
        }
        for bad in ["99", "99ms", "0s", "2h", "61min", "-5s", "1.5s", "s", "ms", "9223372036854775807s", "two"] {
            assertRefused("postgres://u@h/d?statement_timeout=\(bad)", .badTimeout(parameter: "statement_timeout", value: bad))
        }
        XCTAssertTrue(PostgresLocationError.badTimeout(parameter: "statement_timeout", value: "2h").description.contains("100ms to 1h"))
        XCTAssertTrue(PostgresLocationError.badTimeout(parameter: "connect_timeout", value: "0").description.contains("1 to 3600"))
    }

    func testSSLModesRefused() {
        assertRefused("postgres://u@h/d?sslmode=allow", .unsupportedSSLMode("allow"))
        assertRefused("postgres://u@h/d?sslmode=REQUIRE", .unsupportedSSLMode("REQUIRE"))
        assertRefused("postgres://u@h/d?sslmode=verify-full", .rootCertificateMissing("verify-full"))
        assertRefused("postgres://u@h/d?sslmode=verify-ca", .rootCertificateMissing("verify-ca"))
        assertRefused("postgres://u@h/d?sslrootcert=/etc/ca.pem", .rootCertificateWithoutMode)
        assertRefused("postgres://u@h/d?sslmode=disable&sslrootcert=/etc/ca.pem", .rootCertificateUnused("disable"))
        assertRefused("postgres://u@h/d?sslmode=prefer&sslrootcert=system", .rootCertificateUnused("prefer"))
        assertRefused("postgres://u@h/d?sslrootcert=a&sslrootcert=b&sslmode=verify-ca", .duplicateParameter("sslrootcert"))
        assertRefused("postgres://u@h/d?sslcert=/etc/client.pem", .unknownParameter("sslcert"))
    }

    func testEveryMessageIsOneSentenceThatSaysWhatToDo() {
        let all: [PostgresLocationError] = [
            .notPostgresURL, .missingUser, .emptyUser, .missingHost, .missingDatabase, .badDatabase, .badPort("x"),
            .badPercentEncoding(part: "user"), .badHost, .unknownParameter("x"), .unknownParameter("port"),
            .duplicateParameter("host"), .badParameter, .unsupportedSSLMode("allow"), .fragment,
            .rootCertificateMissing("verify-full"), .rootCertificateWithoutMode, .rootCertificateUnused("prefer"),
            .hostListInParameter, .socketInHostList, .unsupportedTargetSession("standby"),
        ]
        for error in all {
            let text = error.description
            XCTAssertTrue(text.hasSuffix("."), text)
            XCTAssertTrue(text.contains(";"), "says what was wrong; then what to do: \(text)")
        }
    }

    // MARK: - The password never shows

    func testPasswordAppearsInNoDescription() throws {
        let password = "Very$ecretPassw0rd"
        for url in ["postgres://trail:\(password)@127.0.0.1:5432/trail",
                    "postgresql://trail:\(password)@/trail?host=/run/postgresql&sslmode=disable"] {
            let l = try parse(url)
            XCTAssertEqual(l.password, password)
            var dumped = ""
            dump(l, to: &dumped)
            let texts = [l.description, l.debugDescription, l.redacted, "\(l)", String(reflecting: l),
                         String(describing: l), dumped, "\([l])", "\(Optional(l) as Any)"]
            for text in texts {
                XCTAssertFalse(text.contains(password), text)
                XCTAssertFalse(text.contains("ecretPassw"), text)
            }
            XCTAssertTrue(dumped.contains("<redacted>"), dumped)
        }
        XCTAssertEqual(try parse("postgres://trail:\(password)@127.0.0.1:5432/trail").description,
                       "postgres://trail@127.0.0.1:5432/trail")
    }

    func testErrorsNeverQuoteThePassword() {
        let password = "Very$ecretPassw0rd"
        for url in ["postgres://trail:\(password)@h:x/d", "postgres://trail:\(password)@h/d?x=1",
                    "postgres://trail:\(password)@/d", "postgres://trail:\(password)@h", "postgres://:\(password)@h/d",
                    "postgres://trail:\(password)%@h/d", "postgres://trail:\(password)@h/d#f"] {
            do {
                _ = try PostgresLocation(parsing: url)
                XCTFail("\(url) parsed")
            } catch {
                XCTAssertFalse(error.description.contains("ecretPassw"), error.description)
                XCTAssertFalse(String(reflecting: error).contains("ecretPassw"))
            }
        }
    }
}
