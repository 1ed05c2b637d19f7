import NIOCore

/// Runs the jobs of the tasks that prefer it on one event loop, so that an
/// async read started on a connection's loop stays there: its awaits resume
/// on that thread instead of hopping to Swift's thread pool and back
/// (`TrailStore.readsOnEventLoop`). What runs there must not block.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
