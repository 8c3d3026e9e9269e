using Umdev.Core;

namespace Umdev.Devices.Mbochs;

/// <summary>Loads and unloads the mbochs sample (the kernel's module init and exit).</summary>
public static class Mbochs
{
    /// <summary>Registers the <c>mbochs</c> parent with its driver; types <c>mbochs-small</c>, <c>-medium</c>, <c>-large</c>.</summary>
    public static MdevParent Register(MdevCore core, MbochsOptions? options = null)
    {
        var driver = new MbochsDriver(options ?? new MbochsOptions());
        return core.RegisterParent(driver.ParentSpec, driver);
    }

    /// <summary>Removes every device of the parent, then the parent and its driver.</summary>
    public static void Unregister(MdevCore core, MdevParent parent)
    {
        core.UnregisterParent(parent);
        core.UnregisterDriver(parent.Driver);
    }
}
