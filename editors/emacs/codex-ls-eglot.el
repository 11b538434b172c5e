;;; codex-ls-eglot.el --- codex-ls with Eglot (Emacs 29+)  -*- lexical-binding: t; -*-
;; Load it from your init file: (load "/path/to/codex-ls-eglot.el"), then M-x eglot in a buffer.
;; Eglot runs one server per major mode, so this makes codex-ls that server for these modes.
;; Eglot has no inline completion: the suggestion is the first candidate of completion-at-point
;; (company / corfu show it as you type); code actions: M-x eglot-code-actions (or the margin).

(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode js-mode js-ts-mode typescript-ts-mode tsx-ts-mode
                  go-mode go-ts-mode rust-mode rust-ts-mode java-mode java-ts-mode
                  c-mode c-ts-mode c++-mode c++-ts-mode)
                 . ("codex-ls" :initializationOptions (:completion (:maxTokens 64))))))

(provide 'codex-ls-eglot)
;;; codex-ls-eglot.el ends here
