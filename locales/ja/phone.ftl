# デモ用プロバイダーのスマートフォン向けページ（日本語）。日本語には複数形がないため、数は { $count } のまま使います。

page-title = { $page } - デモ用サインイン
demo-badge = デモ
page-header = tvsignin サインイン
page-footer = これは tvsignin に組み込まれたデモ用のプロバイダーです。本番環境では使わないでください。組み込みユーザーのパスワードはこのページに表示されています。
button-continue = 次へ
button-start-again = 最初からやり直す

# 手順 1：コード
code-title = コードの入力
code-heading = テレビでサインイン
code-label = コード
code-hint-empty = テレビに表示されているコードを入力してください。
code-hint-check = テレビに表示されているコードと同じか確認してください。

# 手順 2：サインインするユーザーと許可
consent-title = テレビでサインインしますか？
device-name = tvsignin のテレビ
consent-device = { $device }がサインインしようとしています。
consent-code = コード { $code }
consent-issued-now = たった今（{ $at }）発行されました。
consent-issued-seconds = { $count } 秒前（{ $at }）に発行されました。
consent-issued-minutes = { $count } 分前（{ $at }）に発行されました。
consent-expires-now = このコードはまもなく期限切れになります。
consent-expires-seconds = このコードはあと { $count } 秒で期限切れになります。
consent-expires-minutes = このコードはあと { $count } 分で期限切れになります。
consent-warning = 目の前のテレビでご自身が操作を始めた場合にのみ、続けてください。
label-user = サインインするユーザー
label-password = パスワード
button-allow = 許可する
button-deny = 拒否する
accounts-caption = デモ用アカウント：
accounts-name = 名前
accounts-user = ユーザー名
accounts-password = パスワード
password-not-shown = 非表示

# 完了
result-signed-in-title = サインインしました
result-signed-in = テレビでサインインしました。このページは閉じてかまいません。
result-declined-title = サインインを拒否しました
result-declined = サインインを拒否しました。テレビはサインインしていません。このページは閉じてかまいません。
result-who = { $name } としてサインインしました。

# うまくいかなかったときの説明と対処
error-unavailable-title = しばらくしてからお試しください
error-unavailable = 現在、デモ用サインインはご利用いただけません。
error-too-many-tries-title = 試行回数が多すぎます
error-too-many-tries = このネットワークアドレスからの試行が多すぎます。1 分ほど待ってから、もう一度お試しください。
error-cookies-title = Cookie が必要です
error-cookies = サインインを安全に行うため、このページでは Cookie を使用します。このサイトの Cookie を許可してから、最初からやり直してください。
error-expired-form-title = 最初からやり直してください
error-expired-form = このフォームは有効期限が切れているか、このページから送信されたものではありません。最初からやり直してください。
error-unknown-step = 問題が発生しました。最初からやり直してください。
error-code-empty = テレビに表示されているコードを入力してください。
error-code-wrong = コードが正しくありません。テレビに表示されているコードを確認して、もう一度お試しください。
error-code-expired = このコードは有効期限が切れています。テレビで最初からやり直して、新しいコードを取得してください。
error-code-used = このコードはすでに使用されています。サインインが必要な場合は、テレビで最初からやり直してください。
error-too-many-wrong = 間違ったコードの入力が多すぎます。{ $minutes } 分待ってから、もう一度お試しください。
error-code-not-usable-title = このコードは使用できません
error-password-empty-public = パスワードを入力してください（デモ用のパスワードは下に記載されています）。
error-password-empty = パスワードを入力してください。
error-password-wrong-public = パスワードが違います。デモ用のパスワードは下に記載されています。
error-password-wrong = パスワードが違います。
error-pick-user = デモ用ユーザーを選んでください。
error-choose = 「許可する」または「拒否する」を選んでください。
