using System.Text;
using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Core.Tests;

public class MdevUuidTests
{
    private const string Uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";

    [Theory]
    [InlineData(Uuid)]
    [InlineData(Uuid + "\n")]
    [InlineData("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001")]
    [InlineData("83B8f4f2-509f-382F-3c1e-E6BFE0fa1001\n")]
    [InlineData(Uuid + "x")] // the kernel does not inspect a 37th byte
    public void Accepts_the_kernels_forms_and_names_the_device_in_lowercase(string written)
    {
        var uuid = MdevUuid.ParseCreateWrite(Encoding.ASCII.GetBytes(written));
        Assert.Equal(Uuid, MdevUuid.ToName(uuid));
    }

    [Theory]
    [InlineData("83b8f4f2-509f-382f-3c1e-e6bfe0fa100")]        // 35
    [InlineData("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n\n")]   // 38
    [InlineData("83b8f4f2-509f-382f-3c1e-e6bfe0fa10011\n")]    // 38
    [InlineData("")]
    [InlineData("83b8f4f2-509f-382f-3c1e-e6bfe0fa100g")]       // non-hex
    [InlineData("83b8f4f2_509f-382f-3c1e-e6bfe0fa1001")]       // wrong separator
    [InlineData("83b8f4f2509f-382f-3c1e-e6bfe0fa1001-")]       // dash misplaced
    [InlineData(" 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001")]      // leading blank
    [InlineData("{83b8f4f2-509f-382f-3c1e-e6bfe0fa1001}")]     // braces
    [InlineData("+3b8f4f2-509f-382f-3c1e-e6bfe0fa1001")]
    public void Rejects_everything_else_with_EINVAL(string written)
    {
        var e = Assert.Throws<ErrnoException>(() => MdevUuid.ParseCreateWrite(Encoding.ASCII.GetBytes(written)));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
