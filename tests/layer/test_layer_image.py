#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""unionmount-layer image: the OCI image layout, checked field by field.

The layout's structure (oci-layout, index, manifest, config, blobs named
and sized by their content), DiffIDs of plain, gzip and zstd tarballs and
of layer directories, directories exported with the ones before them as
lowers, byte-identical output, tags added to and replaced in an existing
layout, --config, --mtime and SOURCE_DATE_EPOCH, --json, and bad input
refused with one line and exit 2 before anything is written.  Consumers
(podman, skopeo, umoci) read these layouts in test_e2e.py.
"""

import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile

import layertest
from layertest import ok, refused, run
from umtest import (case, eq, join, main, mkdir, mkfile, Union,
                    whiteout)

ARCH = {'x86_64': 'amd64', 'aarch64': 'arm64', 'i686': '386',
        'ppc64le': 'ppc64le', 's390x': 's390x', 'riscv64': 'riscv64'}


def sha(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def tar_of(files):
    """A plain tar of {name: bytes}, deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def zstd(data):
    return subprocess.run(['zstd', '-q', '-c'], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


class Layout:
    """An OCI layout read back, every reference checked on the way."""

    def __init__(self, d):
        self.d = d
        eq(json.loads(self.read('oci-layout')),
           {'imageLayoutVersion': '1.0.0'}, 'oci-layout')
        self.index = json.loads(self.read('index.json'))
        eq(self.index['schemaVersion'], 2, 'index schemaVersion')
        eq(self.index['mediaType'],
           'application/vnd.oci.image.index.v1+json', 'index mediaType')

    def read(self, rel):
        with open(join(self.d, rel), 'rb') as f:
            return f.read()

    def blob(self, desc):
        """The blob a descriptor names: its name, size and digest agree."""
        data = self.read('blobs/sha256/' + desc['digest'].split(':', 1)[1])
        eq(sha(data), desc['digest'], 'digest of ' + desc['digest'])
        eq(len(data), desc['size'], 'size of ' + desc['digest'])
        return data

    def manifest(self, tag=None):
        ms = [m for m in self.index['manifests']
              if m.get('annotations', {}).get(
                  'org.opencontainers.image.ref.name') == tag]
        eq(len(ms), 1, 'manifests tagged %r' % tag)
        eq(ms[0]['mediaType'],
           'application/vnd.oci.image.manifest.v1+json', 'mediaType')
        m = json.loads(self.blob(ms[0]))
        eq(m['schemaVersion'], 2, 'manifest schemaVersion')
        eq(m['config']['mediaType'],
           'application/vnd.oci.image.config.v1+json', 'config mediaType')
        cfg = json.loads(self.blob(m['config']))
        eq(ms[0]['platform'], {'architecture': cfg['architecture'],
                               'os': cfg['os']}, 'platform in the index')
        layers = [self.blob(l) for l in m['layers']]
        return m, cfg, layers

    def files(self):
        out = {}
        for dp, dn, fn in os.walk(self.d):
            for n in fn:
                p = join(dp, n)
                with open(p, 'rb') as f:
                    out[os.path.relpath(p, self.d)] = f.read()
        return out


def uncompressed(data):
    if data[:2] == b'\x1f\x8b':
        return gzip.decompress(data)
    if data[:4] == b'\x28\xb5\x2f\xfd':
        return subprocess.run(['zstd', '-q', '-d', '-c'], input=data,
                               stdout=subprocess.PIPE, check=True).stdout
    return data


def members(data):
    with tarfile.open(fileobj=io.BytesIO(uncompressed(data))) as t:
        return {m.name.rstrip('/'): (t.extractfile(m).read()
                                     if m.isreg() else m.type)
                for m in t.getmembers()}


@case
def tarballs_plain_gzip_zstd():
    with Union(lowers=0, upper=False) as u:
        a = tar_of({'a': b'bottom\n', 'etc/x': b'x'})
        b = tar_of({'b': b'middle\n'})
        c = tar_of({'c': b'top\n', '.wh.a': b''})
        for name, data in (('a.tar', a), ('b.tar.gz', gzip.compress(b)),
                           ('c.tar.zst', zstd(c))):
            mkfile(join(u.root, name), data)
        out = join(u.root, 'oci')
        digest = ok(['image', '-o', out, '--tag', 'v1', join(u.root, 'a.tar'),
                     join(u.root, 'b.tar.gz'), join(u.root, 'c.tar.zst')])
        lay = Layout(out)
        m, cfg, layers = lay.manifest('v1')
        eq(digest.strip(), lay.index['manifests'][0]['digest'],
           'printed manifest digest')
        eq([l['mediaType'] for l in m['layers']],
           ['application/vnd.oci.image.layer.v1.tar',
            'application/vnd.oci.image.layer.v1.tar+gzip',
            'application/vnd.oci.image.layer.v1.tar+zstd'], 'media types')
        # blobs are the files as given; DiffIDs of the tar inside
        eq(layers[0], a, 'plain blob')
        eq(cfg['rootfs'], {'type': 'layers',
                           'diff_ids': [sha(a), sha(b), sha(c)]}, 'rootfs')
        eq(cfg['architecture'],
           ARCH.get(platform.machine(), platform.machine()), 'arch')
        eq(cfg['os'], 'linux', 'os')
        eq(cfg['created'], '1970-01-01T00:00:00Z', 'created (no clock)')
        eq(cfg['config'], {'Env': [
            'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:'
            '/bin'], 'Cmd': ['/bin/sh']}, 'default config')
        eq([h['created_by'] for h in cfg['history']],
           ['unionmount-layer image a.tar', 'unionmount-layer image b.tar.gz',
            'unionmount-layer image c.tar.zst'], 'history')
        eq(sorted(os.listdir(join(out, 'blobs/sha256'))),
           sorted(set(d.split(':')[1] for d in
                      [m['config']['digest'],
                       lay.index['manifests'][0]['digest']] +
                      [l['digest'] for l in m['layers']])),
           'blobs: exactly the referenced ones, no temporary files')


@case
def directories_exported_over_the_ones_before():
    with Union(lowers=0, upper=False) as u:
        base = mkdir(join(u.root, 'base'))
        mkfile(join(base, 'orig/f'), b'f in the base\n')
        mkfile(join(base, 'gone'), b'deleted above\n')
        mkfile(join(base, 'kept'), b'kept\n', mode=0o600, uid=12, gid=34)
        upper = mkdir(join(u.root, 'upper'))
        # a renamed directory (kernel redirect) and a whiteout
        mkdir(join(upper, 'moved'))
        os.setxattr(join(upper, 'moved'), 'trusted.overlay.redirect',
                    b'/orig')
        whiteout(join(upper, 'orig'))
        whiteout(join(upper, 'gone'))
        mkfile(join(upper, 'moved/new'), b'new\n')
        out = join(u.root, 'oci')
        info = json.loads(ok(['image', '-o', out, '--json', '--mtime',
                              '1700000000', base, upper]))
        lay = Layout(out)
        m, cfg, layers = lay.manifest(None)
        eq(info['manifest'], lay.index['manifests'][0]['digest'],
           '--json manifest')
        eq([l['diff_id'] for l in info['layers']],
           cfg['rootfs']['diff_ids'], '--json diff_ids')
        eq(cfg['created'], '2023-11-14T22:13:20Z', 'created from --mtime')
        bot = members(layers[0])
        eq(bot['kept'], b'kept\n', 'base layer: whole tree')
        top = members(layers[1])
        eq({k: v for k, v in top.items() if k != '.'},
           {'moved': tarfile.DIRTYPE, 'moved/.wh..wh..opq': b'',
            'moved/f': b'f in the base\n', 'moved/new': b'new\n',
            '.wh.orig': b'', '.wh.gone': b''},
           'upper exported over the base: redirect expanded, opaque')
        # the same bytes as export with the same lowers
        data, digests = layertest.export(upper, lowers=[base],
                                         extra=['--mtime', '1700000000'])
        eq(layers[1], data, 'layer = export --lowers base upper')
        eq(cfg['rootfs']['diff_ids'][1], digests['diff_id'], 'DiffID')


@case
def byte_identical_and_compressed_dirs():
    with Union(lowers=0, upper=False) as u:
        base = mkdir(join(u.root, 'base'))
        for i in range(50):
            mkfile(join(base, 'd%d/f%d' % (i % 5, i)), b'%d\n' % i * 100)
        for comp, mt in (('none', 'tar'), ('gzip', 'tar+gzip'),
                         ('zstd', 'tar+zstd')):
            outs = []
            for n in range(2):
                out = join(u.root, 'oci-%s-%d' % (comp, n))
                ok(['image', '-o', out, '--tag', 't', '--compress', comp,
                    base])
                outs.append(Layout(out))
            eq(outs[0].files(), outs[1].files(), 'two runs, ' + comp)
            m, cfg, layers = outs[0].manifest('t')
            eq(m['layers'][0]['mediaType'],
               'application/vnd.oci.image.layer.v1.' + mt, 'media type')
            eq(cfg['rootfs']['diff_ids'], [sha(uncompressed(layers[0]))],
               'DiffID of the %s layer' % comp)


@case
def tags_in_an_existing_layout():
    with Union(lowers=0, upper=False) as u:
        a = mkfile(join(u.root, 'a.tar'), tar_of({'a': b'a'}))
        b = mkfile(join(u.root, 'b.tar'), tar_of({'b': b'b'}))
        out = join(u.root, 'oci')
        ok(['image', '-o', out, '--tag', 'one', a])
        ok(['image', '-o', out, '--tag', 'two', b])
        ok(['image', '-o', out, '--tag', 'one', b])
        ok(['image', '-o', out, a])
        ok(['image', '-o', out, a])
        lay = Layout(out)
        eq([m.get('annotations', {}).get('org.opencontainers.image.ref.name')
            for m in lay.index['manifests']], ['two', 'one', None],
           'tags: two kept, one replaced, untagged once')
        eq(lay.manifest('one')[2], [tar_of({'b': b'b'})], 'one is now b')
        eq(lay.manifest('two')[2], [tar_of({'b': b'b'})], 'two is b')
        eq(lay.manifest(None)[2], [tar_of({'a': b'a'})], 'untagged is a')


@case
def config_file_and_source_date_epoch():
    with Union(lowers=0, upper=False) as u:
        a = mkfile(join(u.root, 'a.tar'), tar_of({'a': b'a'}))
        cfgfile = join(u.root, 'config.json')
        doc = {'architecture': 'arm64', 'os': 'linux',
               'config': {'Cmd': ['/bin/true'], 'Labels': {'x': 'y'}},
               'rootfs': {'type': 'layers', 'diff_ids': ['sha256:00']},
               'history': [{'created_by': 'mine'}]}
        mkfile(cfgfile, json.dumps(doc).encode())
        out = join(u.root, 'oci')
        ok(['image', '-o', out, '--config', cfgfile, a],
           env={'SOURCE_DATE_EPOCH': '86400'})
        m, cfg, layers = Layout(out).manifest(None)
        eq(cfg['architecture'], 'arm64', 'architecture from --config')
        eq(cfg['config'], doc['config'], 'config from --config')
        eq(cfg['rootfs']['diff_ids'], [sha(tar_of({'a': b'a'}))],
           'rootfs always ours')
        eq(cfg['history'], [{'created_by': 'mine'}],
           'history kept: one entry per layer')
        eq(cfg['created'], '1970-01-02T00:00:00Z', 'SOURCE_DATE_EPOCH')
        # a history that does not match the layers is replaced
        doc['history'] = []
        mkfile(cfgfile, json.dumps(doc).encode())
        out2 = join(u.root, 'oci2')
        ok(['image', '-o', out2, '--config', cfgfile, a, a])
        m, cfg, layers = Layout(out2).manifest(None)
        eq(len(cfg['history']), 2, 'history replaced')


@case
def bad_input_refused():
    with Union(lowers=0, upper=False) as u:
        a = mkfile(join(u.root, 'a.tar'), tar_of({'a': b'a'}))
        notar = mkfile(join(u.root, 'notar'), b'hello\n' * 200)
        gznotar = mkfile(join(u.root, 'x.gz'), gzip.compress(b'x' * 2000))
        badcfg = mkfile(join(u.root, 'bad.json'), b'{"a": ')
        arr = mkfile(join(u.root, 'arr.json'), b'[1]')
        full = mkdir(join(u.root, 'full'))
        mkfile(join(full, 'something'), b'')
        out = join(u.root, 'oci')
        for args, what in (
                (['image', a], 'no -o'),
                (['image', '-o', out], 'no layer'),
                (['image', '-o', out, '--tag', 'Bad Tag', a], 'tag space'),
                (['image', '-o', out, '--tag', 'a..b', a], 'tag ..'),
                (['image', '-o', out, '--tag', '-x', a], 'tag -x'),
                (['image', '-o', out, '--bogus', a], 'unknown option'),
                (['image', '-o', out, '--compress', 'xz', a], 'compress'),
                (['image', '-o', out, '--mtime', 'soon', a], 'mtime'),
                (['image', '-o', out, join(u.root, 'missing')], 'missing'),
                (['image', '-o', out, '/dev/null'], 'char device'),
                (['image', '-o', out, notar], 'not a tar'),
                (['image', '-o', out, gznotar], 'gzip, not a tar'),
                (['image', '-o', out, '--config', badcfg, a], 'bad json'),
                (['image', '-o', out, '--config', arr, a], 'json array'),
                (['image', '-o', full, a], 'not empty, not a layout'),
                (['image', '-o', join(full, 'oci'), full],
                 'output inside a layer'),
                (['image', '-o', full, full], 'output is a layer')):
            refused(args, what)
        rc, _o, err = run(['image', '-o', out, a],
                          env={'SOURCE_DATE_EPOCH': 'yesterday'})
        eq((rc, len(err.strip().split('\n'))), (2, 1), 'SOURCE_DATE_EPOCH')
        # refused before writing: nothing but what the failed runs could
        # not avoid (a layout started before a layer proved bad), and
        # never a temporary file
        eq(os.path.exists(join(u.root, 'oci', 'index.json')), False,
           'no index from failed runs')
        if os.path.isdir(join(out, 'blobs/sha256')):
            eq([n for n in os.listdir(join(out, 'blobs/sha256'))
                if n.startswith('.')], [], 'temporary blobs')
        eq(os.listdir(full), ['something'], 'full dir untouched')


if __name__ == '__main__':
    main()
