import NIOCore

/// Runs the jobs of the tasks that prefer it on one event loop, so that an
/// async read started on a connection's loop stays there: its awaits resume
/// on that thread instead of hopping to Swift's thread pool and back
/// (`TrailStore.readsOnEventLoop`). What runs there must not block.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop every job runs on.
    public let loop: any EventLoop

    /// An executor for the jobs of tasks that prefer `loop`.
    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
