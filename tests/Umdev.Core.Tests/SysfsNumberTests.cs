using System.Text;
using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Core.Tests;

public class SysfsNumberTests
{
    [Theory]
    [InlineData("1", true)]
    [InlineData("1\n", true)]
    [InlineData("y", true)]
    [InlineData("Yes", true)]
    [InlineData("on\n", true)]
    [InlineData("ON", true)]
    [InlineData("0", false)]
    [InlineData("n", false)]
    [InlineData("No\n", false)]
    [InlineData("off", false)]
    [InlineData("oFf", false)]
    public void ParseBool_reads_kstrtobool_words_by_their_first_characters(string text, bool expected) =>
        Assert.Equal(expected, SysfsNumber.ParseBool(Encoding.ASCII.GetBytes(text)));

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("2")]
    [InlineData("o")]
    [InlineData("ox")]
    [InlineData("maybe")]
    public void ParseBool_refuses_anything_else_with_EINVAL(string text) =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => SysfsNumber.ParseBool(Encoding.ASCII.GetBytes(text))).Errno);
}
