"""The storage-site format: what a domain's container holds, which both sites read and write.

    manifest.json                          who owns the domain, at which epoch (`manifest`)
    vms/<vm key>/config.json               the protected VM's configuration
    segments/<gen>/<from>-<to>-<seq>.json  shipped writes: {vm: {disk: [[region, epoch, content]]}}
    recovery-points/<gen>/<epoch>.json     one per recovery point (the index a recovery lists)
    checkpoints/<gen>/<to>.json            segments older than the PITR window, merged

`from`/`to` are epochs, zero-padded so that keys sort in time order. `gen` is the ownership
epoch of the manifest: each site that takes a domain over starts a generation with a base record
of every VM's disks, so a replica is rebuilt from its own generation alone and the two sites'
clocks never have to agree. A VM is named by its key, the id it had where it was first
protected, on every site.
"""
