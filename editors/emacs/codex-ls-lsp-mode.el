;;; codex-ls-lsp-mode.el --- codex-ls with lsp-mode  -*- lexical-binding: t; -*-
;; Load it from your init file: (load "/path/to/codex-ls-lsp-mode.el").
;; codex-ls runs as an add-on next to your usual server for the language (:add-on? t).
;; The suggestion comes as the first completion candidate (company / corfu); code actions:
;; M-x lsp-execute-code-action (s-l a a).

(with-eval-after-load 'lsp-mode
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection '("codex-ls"))
    :activation-fn (lsp-activate-on "python" "javascript" "typescript" "typescriptreact"
                                    "go" "rust" "java" "c" "cpp")
    :server-id 'codex-ls
    :add-on? t
    :priority -2
    :initialization-options (lambda () '(:completion (:maxTokens 64))))))

(provide 'codex-ls-lsp-mode)
;;; codex-ls-lsp-mode.el ends here
