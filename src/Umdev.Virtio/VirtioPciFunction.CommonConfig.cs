using System.Buffers.Binary;

namespace Umdev.Virtio;

/// <summary>
/// The common configuration structure (virtio-pci.md §3). Reads compose the 0x38 bytes from the state;
/// a write of any width is laid over that image and each field it touched is applied, so the
/// 64-bit ring addresses work written whole or as two 32-bit halves, as Linux writes them. The device
/// configuration never changes while a driver holds the device, so config_generation stays 0.
/// </summary>
public abstract partial class VirtioPciFunction
{
    private const int DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0c,
        ConfigMsixVector = 0x10, NumQueues = 0x12, DeviceStatus = 0x14, QueueSelect = 0x16, // 0x15 config_generation reads 0
        QueueSize = 0x18, QueueMsixVector = 0x1a, QueueEnable = 0x1c, QueueNotifyOff = 0x1e, QueueDesc = 0x20,
        QueueDriver = 0x28, QueueDevice = 0x30;

    private ulong OfferedFeatures => DeviceFeatures | VirtioFeatures.Transport;

    private SplitVirtqueue? SelectedQueue => _queueSelect < _queues.Length ? _queues[_queueSelect] : null;

    private void CommonImage(Span<byte> image)
    {
        image.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(image[DeviceFeatureSelect..], _deviceFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(image[DeviceFeature..], Half(OfferedFeatures, _deviceFeatureSelect));
        BinaryPrimitives.WriteUInt32LittleEndian(image[DriverFeatureSelect..], _driverFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(image[DriverFeature..], Half(_driverFeatures, _driverFeatureSelect));
        BinaryPrimitives.WriteUInt16LittleEndian(image[ConfigMsixVector..], _configVector);
        BinaryPrimitives.WriteUInt16LittleEndian(image[NumQueues..], (ushort)_queues.Length);
        image[DeviceStatus] = (byte)Status;
        BinaryPrimitives.WriteUInt16LittleEndian(image[QueueSelect..], _queueSelect);
        if (SelectedQueue is not { } q) return; // a queue that does not exist reads as size 0
        BinaryPrimitives.WriteUInt16LittleEndian(image[QueueSize..], q.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(image[QueueMsixVector..], q.MsixVector);
        BinaryPrimitives.WriteUInt16LittleEndian(image[QueueEnable..], q.Enabled ? (ushort)1 : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(image[QueueNotifyOff..], (ushort)q.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(image[QueueDesc..], q.DescAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(image[QueueDriver..], q.DriverAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(image[QueueDevice..], q.DeviceAddress);
    }

    private static uint Half(ulong features, uint select) => select switch
    {
        0 => (uint)features,
        1 => (uint)(features >> 32),
        _ => 0,
    };

    private void WriteCommon(int offset, ReadOnlySpan<byte> data)
    {
        Span<byte> image = stackalloc byte[VirtioPciLayout.CommonLength];
        CommonImage(image);
        data.CopyTo(image[offset..]);
        int end = offset + data.Length;
        bool Touches(int field, int width) => offset < field + width && field < end;

        // The selectors first: a wide write that also reaches the selected queue's fields means the new queue.
        if (Touches(QueueSelect, 2)) _queueSelect = BinaryPrimitives.ReadUInt16LittleEndian(image[QueueSelect..]);
        if (Touches(DeviceFeatureSelect, 4)) _deviceFeatureSelect = BinaryPrimitives.ReadUInt32LittleEndian(image[DeviceFeatureSelect..]);
        if (Touches(DriverFeatureSelect, 4)) _driverFeatureSelect = BinaryPrimitives.ReadUInt32LittleEndian(image[DriverFeatureSelect..]);
        if (Touches(DriverFeature, 4) && (Status & VirtioStatus.FeaturesOk) == 0 && _driverFeatureSelect < 2)
        {
            int shift = 32 * (int)_driverFeatureSelect;
            ulong half = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(image[DriverFeature..]) << shift;
            Volatile.Write(ref _driverFeatures, (_driverFeatures & ~(0xffffffffUL << shift)) | half);
        }
        if (Touches(ConfigMsixVector, 2)) _configVector = CheckVector(BinaryPrimitives.ReadUInt16LittleEndian(image[ConfigMsixVector..]));
        if (SelectedQueue is { } q)
        {
            // A queue's registers are fixed once it is enabled (§4.1.4.3.2: the driver must not change them).
            if (!q.Enabled)
            {
                if (Touches(QueueSize, 2)) q.Size = BinaryPrimitives.ReadUInt16LittleEndian(image[QueueSize..]);
                if (Touches(QueueDesc, 8)) q.DescAddress = BinaryPrimitives.ReadUInt64LittleEndian(image[QueueDesc..]);
                if (Touches(QueueDriver, 8)) q.DriverAddress = BinaryPrimitives.ReadUInt64LittleEndian(image[QueueDriver..]);
                if (Touches(QueueDevice, 8)) q.DeviceAddress = BinaryPrimitives.ReadUInt64LittleEndian(image[QueueDevice..]);
            }
            if (Touches(QueueMsixVector, 2)) q.MsixVector = CheckVector(BinaryPrimitives.ReadUInt16LittleEndian(image[QueueMsixVector..]));
            if (Touches(QueueEnable, 2) && BinaryPrimitives.ReadUInt16LittleEndian(image[QueueEnable..]) == 1 && !q.Enabled) EnableQueue(q);
        }
        if (Touches(DeviceStatus, 1)) WriteStatus((VirtioStatus)image[DeviceStatus]);
    }

    /// <summary>The ring features the driver accepted, which every queue honours.</summary>
    private void ApplyRingFeatures(ulong features)
    {
        foreach (var q in _queues)
        {
            q.EventIdx = (features & VirtioFeatures.RingEventIdx) != 0;
            q.IndirectDesc = (features & VirtioFeatures.RingIndirectDesc) != 0;
        }
    }

    /// <summary>A vector the MSI-X table has, else NO_VECTOR (which the driver reads back as the refusal, §4.1.5.1.2).</summary>
    private ushort CheckVector(ushort vector) => vector < Interrupts.Spec.MsixVectors ? vector : NoVector;

    /// <summary>queue_enable = 1: a ring that cannot be used (bad size, unaligned) is a driver error.</summary>
    private void EnableQueue(SplitVirtqueue q)
    {
        if (q.Validate() is { } error)
        {
            SetNeedsReset(error);
            return;
        }
        q.Enabled = true;
    }

    private void WriteStatus(VirtioStatus value)
    {
        if (value == VirtioStatus.None)
        {
            DeviceReset();
            return;
        }
        var old = Status;
        var next = value | (old & VirtioStatus.DeviceNeedsReset);
        if ((value & VirtioStatus.FeaturesOk) != 0 && (old & VirtioStatus.FeaturesOk) == 0)
        {
            ulong features = _driverFeatures;
            bool acceptable = (features & ~OfferedFeatures) == 0 && (features & VirtioFeatures.Version1) != 0;
            if (!acceptable) next &= ~VirtioStatus.FeaturesOk;
        }
        if ((next & VirtioStatus.DriverOk) != 0 && (old & VirtioStatus.DriverOk) == 0)
        {
            if ((next & VirtioStatus.FeaturesOk) == 0)
            {
                Volatile.Write(ref _status, (int)next);
                SetNeedsReset("DRIVER_OK without FEATURES_OK");
                return;
            }
            ApplyRingFeatures(_driverFeatures);
            Volatile.Write(ref _status, (int)next);
            StartWorkers();
            return;
        }
        Volatile.Write(ref _status, (int)next);
    }
}
