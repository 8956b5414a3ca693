import LabelStore
import ServiceLifecycle

/// What wakes the label server's subscribers: the writer's commits, and labels another process
/// wrote to the same database (`labeler label add` without the admin endpoint), noticed by
/// looking at the newest seq once a second. A wake-up carries only a seq, so a repeated one costs
/// nothing.
public final class CommitFeed: Service, Sendable {
    public let stream: AsyncStream<Int64>
    private let continuation: AsyncStream<Int64>.Continuation
    private let writerCommits: AsyncStream<Int64>
    private let store: LabelStore
    private let pollInterval: Duration

    public init(writerCommits: AsyncStream<Int64>, store: LabelStore, pollInterval: Duration = .seconds(1)) {
        (stream, continuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        self.writerCommits = writerCommits
        self.store = store
        self.pollInterval = pollInterval
    }

    /// Forwards the writer's commits until the writer stops, and looks for other writers until
    /// a graceful shutdown.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [writerCommits, continuation] in
                for await seq in writerCommits { continuation.yield(seq) }
                continuation.finish()
            }
            group.addTask { [store, continuation, pollInterval] in
                await cancelWhenGracefulShutdown {
                    var newest = (try? store.lastLabelSeq()) ?? 0
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: pollInterval) } catch { return }
                        if let now = try? store.lastLabelSeq(), now > newest {
                            newest = now
                            continuation.yield(now)
                        }
                    }
                }
            }
        }
    }
}
