using Microsoft.Extensions.Logging;

namespace Umdev.Fuzz;

/// <summary>
/// Turns an error logged with an exception (a driver fault the daemon survived by catching everything)
/// into a failure: the fuzzer must see what the daemon would only log.
/// </summary>
public sealed class FailingLogger : ILogger, ILoggerFactory
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error && exception is not null)
            throw new FuzzFailure($"logged as a fault: {formatter(state, exception)}", exception);
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }
}

/// <summary>What a target throws for a failure it detected itself.</summary>
public sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);
