import TrailProtocol

extension TrailConnection {
    /// Every page of `trail.export` for `ns`, in order, as an async sequence:
    /// each page is requested when the previous one has been consumed (the
    /// next cursor comes with it). `pageSize` is 1 to 1000 records (the
    /// daemon's default, 500, when nil).
    public func exportPages(ns: String?, pageSize: Int? = nil) -> ExportPages {
        ExportPages(connection: self, ns: ns, pageSize: pageSize)
    }
}

/// The pages of one export; see `TrailConnection.exportPages(ns:pageSize:)`.
public struct ExportPages: AsyncSequence, Sendable {
    public typealias Element = ExportedPage
    public typealias Failure = TrailClientError

    let connection: TrailConnection
    let ns: String?
    let pageSize: Int?

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }

    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        let pages: ExportPages
        var cursor: String?
        var done = false

        init(pages: ExportPages) { self.pages = pages }

        public mutating func next() async throws(TrailClientError) -> ExportedPage? {
            guard !done else { return nil }
            let page = try await pages.connection.send(ExportRequest(ns: pages.ns, cursor: cursor, limit: pages.pageSize))
            cursor = page.cursor
            done = page.cursor == nil
            return page
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(TrailClientError) -> ExportedPage? {
            try await next()
        }
    }
}
