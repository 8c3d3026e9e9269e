using Umdev.Core;

namespace Umdev.Devices.Mtty;

/// <summary>Loads and unloads the mtty sample (the kernel's module init and exit).</summary>
public static class Mtty
{
    /// <summary>Registers the <c>mtty</c> parent with its driver; types <c>mtty-1</c> and <c>mtty-2</c>.</summary>
    public static MdevParent Register(MdevCore core, MttyOptions? options = null)
    {
        var driver = new MttyDriver(options ?? new MttyOptions());
        return core.RegisterParent(driver.ParentSpec, driver);
    }

    /// <summary>Removes every device of the parent, then the parent and its driver.</summary>
    public static void Unregister(MdevCore core, MdevParent parent)
    {
        core.UnregisterParent(parent);
        core.UnregisterDriver(parent.Driver);
    }
}
