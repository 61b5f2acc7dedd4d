/**
 * A screen for tests: a DRM dumb buffer, exported as a dma-buf (PRIME), written through our
 * brackets and scanned out by a KMS driver with the legacy modesetting calls (GETRESOURCES,
 * GETCONNECTOR, ADDFB2, SETCRTC, DIRTYFB). Made for QEMU's virtio-gpu (`-device virtio-gpu-pci`,
 * module virtio-gpu), whose screen the VM runner can photograph (QEMU's screendump), so a test
 * compares what reached the screen with what it wrote.
 *
 * What it teaches: on virtio-gpu the host keeps its own copy of every resource, and the guest's
 * writes reach it only when the driver sends TRANSFER_TO_HOST_2D and RESOURCE_FLUSH, which it does
 * for a modeset and for the damage of DIRTYFB (drm_atomic_helper_dirtyfb → virtio_gpu's plane
 * update), not for DMA_BUF_IOCTL_SYNC: the DRM core's PRIME exports have no begin/end_cpu_access.
 * So SYNC END alone leaves the old picture on the screen; flush() puts the new one there.
 */
import { inspect } from 'node:util';
import { type DrmConnector, type DrmKmsOps, type DrmMode, drmKmsOps, openCardOf } from '../backend/kernel/drm-kms.js';
import { DmaBufError, invalidArgument, MisuseCode } from '../common/errors.js';
import { DmaBuf } from '../dmabuf.js';
import { DRM_FORMATS, type DrmFormat } from '../drm-format.js';
import { Frame } from '../frame.js';
import { checkToken, Owned } from '../lifecycle.js';
import { checkInteger, checkOptions } from '../validate.js';

const openToken = Symbol('DrmScanout.open');
const XRGB8888 = DRM_FORMATS['XRGB8888'] as DrmFormat;
/** DRM_MODE_TYPE_PREFERRED (drm_mode.h): the mode the display asks for. */
const PREFERRED = 1 << 3;
/** enum drm_connector_status: connected. */
const CONNECTED = 1;

/** What the scanout holds in the kernel, released in reverse order at close(). */
interface Held {
  readonly ops: DrmKmsOps;
  readonly card: number;
  readonly path: string;
  /** The card node's file at open (fstat's dev and ino): no ioctl goes to an fd number that names another file now. */
  readonly file: { dev: number; ino: number };
  handle?: number | undefined;
  fbId?: number | undefined;
  crtcId?: number;
  buffer?: DmaBuf;
  frame?: Frame;
  close(): void;
}

function ownsCard(held: Held): boolean {
  try {
    const { dev, ino } = held.ops.fstat(held.card);
    return dev === held.file.dev && ino === held.file.ino;
  } catch {
    return false;
  }
}

function release(held: Held): void {
  const { ops, card } = held;
  // A card fd closed behind our back (its number perhaps reused) gets no ioctl; the kernel dropped
  // the framebuffer and the GEM handle with the file (drm_file release), and closing it reports EBADF.
  const mine = ownsCard(held);
  const steps = [
    // RMFB switches off a CRTC still showing the framebuffer (drm_mode_rmfb): the screen goes back to nothing.
    () => mine && held.fbId !== undefined && ops.drmModeRmFb(card, held.fbId),
    () => held.frame?.close(),
    () => held.buffer?.close(),
    () => mine && held.handle !== undefined && ops.drmGemClose(card, held.handle),
  ];
  let first: unknown;
  for (const step of steps) {
    try {
      step();
    } catch (error) {
      first ??= error;
    }
  }
  held.fbId = undefined;
  held.handle = undefined;
  ops.close(card);
  if (first !== undefined) throw first;
}

function pickMode(connector: DrmConnector): DrmMode | undefined {
  return connector.modes.find((m) => (m.type & PREFERRED) !== 0) ?? connector.modes[0];
}

export class DrmScanout {
  readonly #owned: Owned<Held>;
  readonly #connectorId: number;
  readonly #mode: DrmMode;
  readonly #pitch: number;

  private constructor(token: symbol, held: Held, connectorId: number, mode: DrmMode, pitch: number) {
    checkToken(token, openToken, 'DrmScanout', 'DrmScanout.open()');
    this.#owned = new Owned(this, 'DrmScanout', held);
    this.#connectorId = connectorId;
    this.#mode = mode;
    this.#pitch = pitch;
  }

  /**
   * Open the first card of `driver` (DRM_IOCTL_VERSION name; default 'virtio_gpu'), take its first
   * connected connector in its preferred mode and a CRTC that connector's encoder can drive, and
   * make an XRGB8888 dumb buffer of the mode's size, exported as a dma-buf and added as a
   * framebuffer. Nothing is on the screen until show(). ERR_DMABUF_UNSUPPORTED where there is no
   * such card or no connected output.
   */
  static open(options?: { driver?: string }): DrmScanout {
    const o = checkOptions('open', options, ['driver']);
    const driver = o['driver'] === undefined ? 'virtio_gpu' : o['driver'];
    if (typeof driver !== 'string' || driver === '')
      throw invalidArgument('open', 'driver', `must be a DRM driver name such as 'virtio_gpu', got ${String(driver)}`);
    const ops = drmKmsOps();
    const card = openCardOf(ops, driver);
    if (!card) {
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `no DRM card of driver '${driver}' in /dev/dri${driver === 'virtio_gpu' ? ': give QEMU `-device virtio-gpu-pci` and load the module (modprobe virtio-gpu)' : ''}`,
        { syscall: 'DRM_IOCTL_VERSION' },
      );
    }
    const { dev, ino } = ops.fstat(card.fd);
    const held: Held = { ops, card: card.fd, path: card.path, file: { dev, ino }, close: () => release(held) };
    try {
      const res = ops.drmModeGetResources(card.fd);
      const connectors = res.connectors.map((id) => ops.drmModeGetConnector(card.fd, id));
      const connector = connectors.find((c) => c.connection === CONNECTED && c.modes.length > 0);
      const mode = connector && pickMode(connector);
      if (!connector || !mode) {
        throw new DmaBufError(
          MisuseCode.UNSUPPORTED,
          `${card.path} has no connected output with a mode (connectors: ${connectors.map((c) => `${c.id}: status ${c.connection}`).join(', ')})`,
          {
            syscall: 'DRM_IOCTL_MODE_GETCONNECTOR',
          },
        );
      }
      // A CRTC the connector's encoders can drive: possible_crtcs is a bit per index into the resources' CRTC list.
      let crtcId: number | undefined;
      for (const encoderId of connector.encoders) {
        const encoder = ops.drmModeGetEncoder(card.fd, encoderId);
        const index = res.crtcs.findIndex((_, i) => (encoder.possibleCrtcs & (1 << i)) !== 0);
        if (index >= 0) {
          crtcId = res.crtcs[index];
          break;
        }
      }
      if (crtcId === undefined)
        throw new DmaBufError(MisuseCode.UNSUPPORTED, `${card.path}: no CRTC can drive connector ${connector.id}`, { syscall: 'DRM_IOCTL_MODE_GETENCODER' });
      held.crtcId = crtcId;
      const dumb = ops.drmCreateDumb(card.fd, mode.width, mode.height, 32);
      held.handle = dumb.handle;
      const fd = ops.drmPrimeHandleToFd(card.fd, dumb.handle, ops.constants.DRM_CLOEXEC | ops.constants.DRM_RDWR);
      let buffer: DmaBuf;
      try {
        buffer = DmaBuf.fromFd(fd, { dup: false });
      } catch (error) {
        ops.close(fd);
        throw error;
      }
      held.buffer = buffer;
      held.frame = Frame.fromPlanes({
        width: mode.width,
        height: mode.height,
        format: XRGB8888.name,
        modifier: 0n,
        planes: [{ buffer, offset: 0, stride: dumb.pitch }],
      });
      held.fbId = ops.drmModeAddFb2(card.fd, mode.width, mode.height, XRGB8888.code, dumb.handle, dumb.pitch, 0);
      return new DrmScanout(openToken, held, connector.id, mode, dumb.pitch);
    } catch (error) {
      try {
        release(held);
      } catch {
        // The first error is the one the caller sees.
      }
      throw error;
    }
  }

  #live(operation: string): Held {
    return this.#owned.live(operation);
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** The card node (/dev/dri/cardN). */
  get path(): string {
    return this.#live('path').path;
  }

  /** The mode's size and name, and the dumb buffer's pitch (bytes per row, as the driver chose it). */
  get mode(): { width: number; height: number; name: string; stride: number } {
    this.#live('mode');
    return { width: this.#mode.width, height: this.#mode.height, name: this.#mode.name, stride: this.#pitch };
  }

  /** The screen's pixels: an XRGB8888 Frame over the dumb buffer's dma-buf (the scanout owns it; do not close it). */
  get frame(): Frame {
    return this.#live('frame').frame as Frame;
  }

  /** Scan the framebuffer out (DRM_IOCTL_MODE_SETCRTC in the connector's mode). A modeset uploads the whole picture. */
  show(): void {
    const held = this.#live('DRM_IOCTL_MODE_SETCRTC');
    this.#refuseWriting('DRM_IOCTL_MODE_SETCRTC');
    held.ops.drmModeSetCrtc(held.card, held.crtcId as number, held.fbId as number, 0, 0, this.#connectorId, this.#mode.raw);
  }

  /**
   * Tell the driver which rectangle changed (DRM_IOCTL_MODE_DIRTYFB; the whole screen by default):
   * virtio-gpu copies it to the host and flushes it to the screen. Checked against the mode before
   * any syscall.
   */
  flush(rect?: { x: number; y: number; width: number; height: number }): void {
    const syscall = 'DRM_IOCTL_MODE_DIRTYFB';
    const held = this.#live(syscall);
    const { width: w, height: h } = this.#mode;
    let clip = [0, 0, w, h];
    if (rect !== undefined) {
      const r = checkOptions(syscall, rect, ['x', 'y', 'width', 'height']);
      const x = checkInteger(syscall, 'x', r['x'], 0, w - 1);
      const y = checkInteger(syscall, 'y', r['y'], 0, h - 1);
      const rw = checkInteger(syscall, 'width', r['width'], 1, w - x);
      const rh = checkInteger(syscall, 'height', r['height'], 1, h - y);
      clip = [x, y, x + rw, y + rh];
    }
    this.#refuseWriting(syscall);
    held.ops.drmModeDirtyFb(held.card, held.fbId as number, clip);
  }

  /** A flush or modeset while a write bracket is open would put half-written pixels on the screen. */
  #refuseWriting(syscall: string): void {
    const frame = this.#live(syscall).frame as Frame;
    if (frame._inBracket) {
      throw new DmaBufError(MisuseCode.BRACKET_ACTIVE, `${syscall}: a CPU-access bracket is open on the scanout's frame; end() it before the screen shows it`, {
        syscall,
      });
    }
  }

  /** Take the framebuffer off the screen (RMFB), free the dumb buffer and close the card. Idempotent. */
  close(): void {
    this.#owned.close((held) => {
      if (held.frame?._inBracket) {
        throw new DmaBufError(MisuseCode.BRACKET_ACTIVE, "close(): a CPU-access bracket is open on the scanout's frame; end() it first", { syscall: 'close' });
      }
    });
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (held) => ({
      path: held.path,
      mode: this.#mode.name,
      stride: this.#pitch,
      connector: this.#connectorId,
      crtc: held.crtcId,
    }));
  }
}
