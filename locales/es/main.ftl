# La página de la televisión, en español.

page-title = Iniciar sesión
page-title-org = Iniciar sesión · { $org }
app-name = tvsignin
demo-badge = Demostración

home-title = Iniciar sesión en esta televisión
home-lead = Usa tu teléfono para iniciar sesión con tu cuenta de { $provider }.
button-sign-in = Iniciar sesión
button-new-code = Código nuevo
button-cancel = Cancelar
button-sign-out = Cerrar sesión

step-scan = En tu teléfono, escanea el código QR o ve a
step-enter = e introduce este código:
user-code-label = Código: { $spoken }
qr-label = Código QR del enlace de inicio de sesión
code-expires = El código caduca en { $time }
phishing-warning = Esto inicia sesión en tu cuenta en esta televisión. Continúa solo si estás delante de esta televisión.
phishing-warning-org = Esto inicia sesión en tu cuenta de { $org } en esta televisión. Continúa solo si estás delante de esta televisión.

outcome-starting = Obteniendo un código…
outcome-denied = El inicio de sesión se rechazó en el teléfono.
outcome-expired = Este código ha caducado. Pide uno nuevo para volver a intentarlo.
outcome-throttled = Demasiados códigos nuevos en poco tiempo. Vuelve a intentarlo dentro de un momento.
outcome-unreachable = No se puede contactar con el servicio de inicio de sesión; reintentando…

status-idle = Pulsa «Iniciar sesión» para empezar.
status-starting = Obteniendo un código…
status-waiting = Esperando a que inicies sesión en tu teléfono…
status-denied = Se rechazó el inicio de sesión.
status-expired = Este código ha caducado.
status-unreachable = No se puede contactar con el servicio de inicio de sesión; reintentando…
status-throttled = Demasiados códigos nuevos. Vuelve a intentarlo dentro de { $time }.
status-signed-in = Sesión iniciada.

welcome = Te damos la bienvenida, { $name }
claims-caption = Tu perfil
idle-warning = La sesión se cerrará en { $time }. Pulsa cualquier tecla para seguir conectado.

# La pantalla con la sesión iniciada, con una aplicación a la que ir (APP_URL).
button-continue = Continuar
continue-note = { $seconds ->
    [0] Te llevamos a la aplicación…
    [one] Te llevamos a la aplicación en un segundo…
   *[other] Te llevamos a la aplicación en { $seconds } segundos…
}

# La página a la que enlaza una aplicación para cerrar la sesión del televisor.
sign-out-page-title = Cerrar sesión
sign-out-question = ¿Cerrar la sesión de este televisor?
signed-in-as = Sesión iniciada como { $name }
button-back-to-app = Volver a la aplicación
not-signed-in = Este televisor no tiene la sesión iniciada

# Lo que dice la página de la televisión cuando falla su primera carga.
error-no-session = Esta pantalla necesita cookies para iniciar sesión. Recarga la página.
error-internal = Algo ha fallado. Vuelve a intentarlo dentro de un momento.
