// gameliftstreams-local protocol script: window.GameCastInputModule.GameCastInput, loaded by
// the Amazon GameLift Streams Web SDK (and by /_local/play/) from a session's webSdkProtocolUrl.
// Wrapped in a function: the SDK loads this file again for every GameLiftStreams instance.
//
// Wire format (JSON text messages):
//   inputChannel, page -> server:
//     {"t":"key","type":"keydown"|"keyup","key":"a","code":"KeyA","repeat":false,"mods":["Shift"]}
//     {"t":"mouse","type":"mousemove"|"mousedown"|"mouseup"|"wheel","x":640,"y":360,
//      "buttons":1,"button":0,"dx":0,"dy":-120,             (x, y in stream pixels; dx, dy: wheel)
//      "mx":3,"my":-1,"locked":false}                       (movement; locked: pointer lock)
//     {"t":"gamepad","type":"gamepadconnected"|"gamepaddisconnected"|"state","index":0,
//      "id":"...","axes":[0.0,...],"buttons":[0.0,...]}
//   clientMessageChannel, both ways:
//     {"t":"app","data":"<base64>"}                         application message
//   clientMessageChannel, server -> page:
//     {"t":"disconnect","reason":"terminated"|"idle"}       the session ended
//     {"t":"stats","timestamp":<epoch ms>,"application":{...},"system":{...}}
//     {"t":"cursor","visible":false}                         the game hid (or showed) its cursor:
//                                                            relative mouse through pointer lock
(function () {
  "use strict";

  function toBase64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }

  function fromBase64(text) {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function modifiers(e) {
    const mods = [];
    if (e.shiftKey) mods.push("Shift");
    if (e.ctrlKey) mods.push("Control");
    if (e.altKey) mods.push("Alt");
    if (e.metaKey) mods.push("Meta");
    return mods;
  }

  function GameCastInput(args) {
    const self = this;
    const config = Object.assign({ resetOnDetach: true, trackWindowFocus: true }, args.inputConfiguration || {});
    const rtc = args.clientRtc || {};
    const input = rtc.rtcDataChannel;
    const messages = rtc.rtcClientMessageChannel;
    const log = typeof args.debugLog === "function" ? args.debugLog : function () {};
    let attached = false;
    let listening = false;
    const heldKeys = new Map();
    let heldButtons = 0;
    const gamepads = new Map();
    let gamepadTimer = null;

    function send(channel, message) {
      if (!channel || channel.readyState !== "open") return false;
      try {
        channel.send(JSON.stringify(message));
        return true;
      } catch (e) {
        log("gameliftstreams-local: send failed: " + e);
        return false;
      }
    }

    function passes(filter, event) {
      return typeof filter !== "function" || filter(event) !== false;
    }

    function reset() {
      heldKeys.forEach(function (code, key) {
        send(input, { t: "key", type: "keyup", key: key, code: code, repeat: false, mods: [] });
      });
      heldKeys.clear();
      for (let b = 0; b < 5; b++) {
        if (heldButtons & (1 << b)) {
          send(input, { t: "mouse", type: "mouseup", x: 0, y: 0, buttons: 0, button: b, dx: 0, dy: 0 });
        }
      }
      heldButtons = 0;
    }

    function onMessage(event) {
      let message;
      try {
        const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
        message = JSON.parse(text);
      } catch (e) {
        return;
      }
      if (message.t === "app" && typeof args.onApplicationMessageReceived === "function") {
        args.onApplicationMessageReceived(fromBase64(message.data || ""));
      } else if (message.t === "disconnect" && typeof args.onServerDisconnect === "function") {
        args.onServerDisconnect(message.reason);
      } else if (message.t === "cursor") {
        remoteCursorVisible = message.visible !== false;
        applyCursor();
      } else if (message.t === "stats" && typeof args.onPerformanceStatsReceived === "function") {
        args.onPerformanceStatsReceived({
          timestamp: new Date(message.timestamp),
          application: message.application,
          system: message.system,
        });
      }
    }
    if (messages) messages.addEventListener("message", onMessage);

    // The game's cursor: hidden means relative mouse. Hidden on the page too (setCursor
    // "visibility"), and the pointer locked where autoPointerLock allows it (true: always;
    // "fullscreen": in full screen only, as the Web SDK does).
    let remoteCursorVisible = true;
    function lockAllowed() {
      const lock = config.autoPointerLock;
      return lock === true || (lock === "fullscreen" && !!document.fullscreenElement);
    }
    function applyCursor() {
      if (!video) return;
      if (config.setCursor === "visibility") video.style.cursor = remoteCursorVisible ? "" : "none";
      if (!attached) return;
      if (!remoteCursorVisible && lockAllowed() && document.pointerLockElement !== video && video.requestPointerLock) {
        try {
          const p = video.requestPointerLock();
          if (p && p.catch) p.catch(function () {});
        } catch (e) {
          log("gameliftstreams-local: pointer lock refused: " + e);
        }
      } else if (remoteCursorVisible && document.pointerLockElement === video) {
        document.exitPointerLock();
      }
    }
    document.addEventListener("fullscreenchange", applyCursor);

    const keyListener = function (e) {
      if (self.processKeyboardEvent(e)) e.preventDefault();
    };
    const mouseListener = function (e) {
      self.processMouseEvent(e);
    };
    const gamepadListener = function (e) {
      self.processGamepadEvent(e);
    };
    const blurListener = function () {
      if (attached && config.trackWindowFocus) reset();
    };
    const video = args.videoElement;

    function listen(on) {
      if (on === listening) return;
      listening = on;
      const method = on ? "addEventListener" : "removeEventListener";
      if (config.autoKeyboard) {
        document[method]("keydown", keyListener);
        document[method]("keyup", keyListener);
      }
      if (config.autoMouse && video) {
        ["mousemove", "mousedown", "mouseup", "wheel"].forEach(function (type) {
          video[method](type, mouseListener);
        });
      }
      if (config.autoGamepad) {
        window[method]("gamepadconnected", gamepadListener);
        window[method]("gamepaddisconnected", gamepadListener);
        if (on) {
          gamepadTimer = setInterval(function () { self.pollTrackedGamepads(); }, 16);
        } else if (gamepadTimer) {
          clearInterval(gamepadTimer);
          gamepadTimer = null;
        }
      }
      window[method]("blur", blurListener);
    }

    this.attach = function () {
      attached = true;
      listen(true);
    };

    this.detach = function () {
      if (attached && config.resetOnDetach) reset();
      attached = false;
      listen(false);
    };

    this.processKeyboardEvent = function (e) {
      if (!attached || (e.type !== "keydown" && e.type !== "keyup")) return false;
      if (!passes(config.keyboardFilter, e)) return false;
      if (e.type === "keydown") heldKeys.set(e.key, e.code);
      else heldKeys.delete(e.key);
      return send(input, { t: "key", type: e.type, key: e.key, code: e.code, repeat: !!e.repeat, mods: modifiers(e) });
    };

    this.processMouseEvent = function (e) {
      if (!attached) return false;
      if (!passes(config.mouseFilter, e)) return false;
      let x = e.offsetX || 0;
      let y = e.offsetY || 0;
      if (video && video.clientWidth && video.videoWidth) {
        x = Math.round((x * video.videoWidth) / video.clientWidth);
        y = Math.round((y * video.videoHeight) / video.clientHeight);
      }
      if (e.type === "mousedown") heldButtons |= 1 << e.button;
      if (e.type === "mouseup") heldButtons &= ~(1 << e.button);
      return send(input, {
        t: "mouse", type: e.type, x: x, y: y, buttons: e.buttons || 0, button: e.button || 0,
        dx: e.deltaX || 0, dy: e.deltaY || 0, mx: e.movementX || 0, my: e.movementY || 0,
        locked: !!video && document.pointerLockElement === video,
      });
    };

    this.processGamepadEvent = function (e) {
      if (!attached || !e.gamepad) return false;
      if (!passes(config.gamepadFilter, e)) return false;
      if (e.type === "gamepadconnected") gamepads.set(e.gamepad.index, "");
      if (e.type === "gamepaddisconnected") gamepads.delete(e.gamepad.index);
      return send(input, { t: "gamepad", type: e.type, index: e.gamepad.index, id: e.gamepad.id, axes: [], buttons: [] });
    };

    this.pollTrackedGamepads = function () {
      if (!attached || !navigator.getGamepads) return false;
      let sent = false;
      const pads = navigator.getGamepads();
      gamepads.forEach(function (last, index) {
        const pad = pads[index];
        if (!pad) return;
        const axes = Array.from(pad.axes, function (a) { return Math.round(a * 1000) / 1000; });
        const buttons = Array.from(pad.buttons, function (b) { return b.value; });
        const state = JSON.stringify([axes, buttons]);
        if (state === last) return;
        gamepads.set(index, state);
        sent = send(input, { t: "gamepad", type: "state", index: index, id: pad.id, axes: axes, buttons: buttons }) || sent;
      });
      return sent;
    };

    this.sendApplicationMessage = function (bytes) {
      const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      return send(messages, { t: "app", data: toBase64(data) });
    };
  }

  window.GameCastInputModule = { GameCastInput: GameCastInput };
})();
