import Foundation
import NIOSSL
import PostgresNIO

/// How traild protects its connections to the database: the store URL's
/// `sslmode` and `sslrootcert`, read as libpq reads them (PostgreSQL manual,
/// "SSL Support"), with two differences written in docs/decisions.md: no
/// `sslmode` means `disable` (libpq's default is `prefer`), and a certificate
/// authority is always named (`sslrootcert`), never looked for in
/// `~/.postgresql/root.crt`.
///
/// TLS applies to TCP connections; over a Unix socket the mode is ignored, as
/// libpq ignores it.
public enum PostgresTLS: Sendable, Hashable {
    /// No TLS (`sslmode=disable`, or no `sslmode`).
    case disable
    /// TLS when the server offers it, plain otherwise; the certificate is not
    /// checked (`sslmode=prefer`): protects against eavesdroppers, not impostors.
    case prefer
    /// TLS or no connection; the certificate is not checked (`sslmode=require`
    /// without `sslrootcert`).
    case require
    /// TLS, and the server's certificate must be signed by `roots`; its name is
    /// not checked (`sslmode=verify-ca`, or `require` with `sslrootcert`).
    case verifyCA(RootCertificates)
    /// TLS, a certificate signed by `roots`, and made out to the host the URL
    /// names (a DNS name, or an IP address in the certificate's IP SANs)
    /// (`sslmode=verify-full`).
    case verifyFull(RootCertificates)

    /// The certificate authorities a server's certificate is checked against.
    public enum RootCertificates: Sendable, Hashable {
        /// The PEM certificates in this file (`sslrootcert=FILE`).
        case file(String)
        /// The system's trust store (`sslrootcert=system`).
        case system

        /// As `sslrootcert` writes it.
        public var parameter: String {
            switch self {
            case let .file(path): path
            case .system: "system"
            }
        }
    }

    /// The `sslmode` that reads back as this mode.
    public var sslmode: String {
        switch self {
        case .disable: "disable"
        case .prefer: "prefer"
        case .require: "require"
        case .verifyCA: "verify-ca"
        case .verifyFull: "verify-full"
        }
    }

    /// The certificate authorities checked against, when the mode checks.
    public var roots: RootCertificates? {
        switch self {
        case let .verifyCA(roots), let .verifyFull(roots): roots
        case .disable, .prefer, .require: nil
        }
    }

    /// The mode of a URL's `sslmode` and `sslrootcert` (either may be absent).
    ///
    /// - `sslrootcert=system` without `sslmode` is `verify-full` (libpq 16).
    /// - `require` with `sslrootcert` is `verify-ca` (libpq).
    /// - `verify-ca` and `verify-full` need `sslrootcert`; `disable` and
    ///   `prefer` refuse it (it would check nothing); `allow` is refused.
    init(sslmode: String?, sslrootcert: String?) throws(PostgresLocationError) {
        let roots = sslrootcert.map { $0 == "system" ? RootCertificates.system : .file($0) }
        switch (sslmode, roots) {
        case (nil, nil), ("disable", nil): self = .disable
        case ("prefer", nil): self = .prefer
        case ("require", nil): self = .require
        case let ("require", roots?), let ("verify-ca", roots?): self = .verifyCA(roots)
        case let ("verify-full", roots?): self = .verifyFull(roots)
        case (nil, .system?): self = .verifyFull(.system)
        case ("verify-ca", nil), ("verify-full", nil): throw .rootCertificateMissing(sslmode!)
        case (nil, _?): throw .rootCertificateWithoutMode
        case let (mode?, _?) where mode == "disable" || mode == "prefer": throw .rootCertificateUnused(mode)
        case let (mode?, _): throw .unsupportedSSLMode(mode)
        }
    }
}

extension PostgresTLS {
    /// postgres-nio's TLS setting for this mode. Reads the CA file now, so
    /// that a missing or empty one stops traild at its start with one line.
    /// - Parameter at: the redacted location, for messages.
    func connectionTLS(at: String) throws(PostgresFailure) -> PostgresConnection.Configuration.TLS {
        var config = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .disable:
            return .disable
        case .prefer, .require:
            config.certificateVerification = .none
        case let .verifyCA(roots):
            config.certificateVerification = .noHostnameVerification
            config.trustRoots = try Self.trustRoots(roots)
        case let .verifyFull(roots):
            config.certificateVerification = .fullVerification
            config.trustRoots = try Self.trustRoots(roots)
        }
        do {
            let context = try NIOSSLContext(configuration: config)
            return self == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw .refused("TLS to the database at \(at) could not be set up (\(error)); check sslrootcert and the system's TLS library.")
        }
    }

    private static func trustRoots(_ roots: RootCertificates) throws(PostgresFailure) -> NIOSSLTrustRoots {
        switch roots {
        case .system:
            return .default
        case let .file(path):
            guard FileManager.default.isReadableFile(atPath: path) else {
                let why = FileManager.default.fileExists(atPath: path) ? "cannot be read by traild's user" : "does not exist"
                throw .refused("sslrootcert \(path) of the store URL \(why); point it at the PEM file of the CA that signed the database server's certificate.")
            }
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw .refused("sslrootcert \(path) of the store URL holds no PEM certificate (\(error)); point it at the PEM file of the CA that signed the database server's certificate.")
            }
            guard !certificates.isEmpty else {
                throw .refused("sslrootcert \(path) of the store URL holds no PEM certificate; point it at the PEM file of the CA that signed the database server's certificate.")
            }
            return .certificates(certificates)
        }
    }
}
