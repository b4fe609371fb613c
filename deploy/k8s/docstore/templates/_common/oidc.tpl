{{/*
Sign in with OpenID Connect, for the accounts service (services/accounts settings.py): the
issuer, client id and button name as values, the client secret only from an existing Secret
(oidc.existingSecret), and whether passwords still sign people in. No issuer: no provider, no
button, no secret. Refused: an issuer without its client id or Secret, an http issuer outside
development (the client secret would cross the network in clear), and passwords off without a
provider (nobody could sign in).
*/}}
{{- define "docstore.env.oidc" -}}
{{- $oidc := .Values.oidc -}}
{{- if $oidc.issuer }}
{{- $_ := required "oidc.clientId is required with oidc.issuer" $oidc.clientId }}
{{- if and (ne .Values.global.environment "development") (not (hasPrefix "https://" $oidc.issuer)) }}
{{- fail (printf "oidc.issuer: %q is refused in environment %q; the provider's issuer is an https URL" $oidc.issuer .Values.global.environment) }}
{{- end }}
{{- else if not $oidc.passwordSignIn }}
{{- fail "oidc.passwordSignIn: false needs oidc.issuer (without a provider nobody could sign in)" }}
{{- end }}
- name: ACCOUNTS_OIDC_ISSUER
  value: {{ $oidc.issuer | quote }}
- name: ACCOUNTS_OIDC_CLIENT_ID
  value: {{ $oidc.clientId | quote }}
- name: ACCOUNTS_OIDC_PROVIDER_NAME
  value: {{ $oidc.providerName | quote }}
- name: ACCOUNTS_PASSWORD_SIGN_IN
  value: {{ $oidc.passwordSignIn | quote }}
{{- if $oidc.issuer }}
{{ include "docstore.secretEnv" (dict "env" "ACCOUNTS_OIDC_CLIENT_SECRET" "ref" $oidc.existingSecret "what" "oidc.existingSecret (the client secret, required with oidc.issuer)") }}
{{- end }}
{{- end -}}
