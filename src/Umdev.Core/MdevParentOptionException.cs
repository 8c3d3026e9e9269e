namespace Umdev.Core;

/// <summary>An option of a parent plug-in that is unknown, repeated, or has a value of the wrong form or range.</summary>
public sealed class MdevParentOptionException(string message) : Exception(message);
